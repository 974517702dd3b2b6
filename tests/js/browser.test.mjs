// End to end in headless Chromium: redis-server, the daemon with
// examples/config.yaml, examples/chat_service.py, and two pages of the demo
// chatting through them — across a daemon kill and restart.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { DAEMON_BINARY, REPO, freePort, managedProcess } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const STEP_TIMEOUT = 15000;

let redis;
let service;
let daemon;
let browser;
const pageErrors = [];

/** Environment overrides that point examples/config.yaml at this test's ports. */
function daemonEnvironment({ wsPort, adminPort, redisPort, serviceUrl }) {
  const env = {
    SOCKETSHARK_WS_PORT: String(wsPort),
    SOCKETSHARK_METRICS__PROMETHEUS__PORT: String(adminPort),
    SOCKETSHARK_REDIS__HOST: '127.0.0.1',
    SOCKETSHARK_REDIS__PORT: String(redisPort),
    SOCKETSHARK_AUTHENTICATION__TICKET__VALIDATION_URL: `${serviceUrl}/auth/ticket`,
  };
  const callbacks = [
    'authorizer',
    'before_subscribe',
    'on_subscribe',
    'on_message',
    'before_unsubscribe',
    'on_unsubscribe',
    'on_authorization_change',
    'on_heartbeat',
  ];
  for (const callback of callbacks) {
    env[`SOCKETSHARK_SERVICES__CHAT__${callback.toUpperCase()}`] = `${serviceUrl}/chat/${callback}`;
  }
  return env;
}

before(async () => {
  const [redisPort, servicePort, wsPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const serviceUrl = `http://127.0.0.1:${servicePort}`;

  redis = managedProcess(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { port: redisPort, name: 'redis-server' },
  );
  await redis.start();

  service = managedProcess(
    '/usr/bin/python3',
    [
      path.join(REPO, 'examples/chat_service.py'),
      '--port', String(servicePort),
      '--redis-url', `redis://127.0.0.1:${redisPort}/0`,
      '--ws-url', `ws://127.0.0.1:${wsPort}`,
    ],
    { port: servicePort, name: 'chat_service.py', env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
  await service.start();

  daemon = managedProcess(DAEMON_BINARY, ['-c', path.join(REPO, 'examples/config.yaml')], {
    port: wsPort,
    name: 'socketshark',
    env: daemonEnvironment({ wsPort, adminPort, redisPort, serviceUrl }),
  });
  await daemon.start();

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: STEP_TIMEOUT,
  });
  browser.serviceUrl = serviceUrl;
});

after(async () => {
  await browser?.close();
  await daemon?.stop('SIGKILL');
  await service?.stop();
  await redis?.stop();
});

async function openChat(name) {
  // One context per user: separate pages as in two browsers.
  const context = await browser.newContext({ viewport: { width: 900, height: 620 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  await page.goto(`${browser.serviceUrl}/?name=${name}&room=lobby`);
  return page;
}

const stateOf = (page) => page.locator('#state');
const lineWith = (page, text) => page.locator('#lines li', { hasText: text });

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#message-form button');
  // Cleared once the service accepted the line (send() resolved with its reply).
  await page.waitForFunction(() => document.querySelector('#text').value === '');
}

async function waitForState(page, state) {
  await page.waitForFunction((wanted) => document.querySelector('#state').textContent === wanted, state);
}

test('two pages chat through the daemon, survive its restart, and chat again', async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');
  for (const page of [alice, bob]) {
    await waitForState(page, 'authenticated');
    await page.waitForFunction(() => /^\d+ ms$/.test(document.querySelector('#latency').textContent));
  }
  await bob.locator('#members li', { hasText: 'alice' }).waitFor();
  await alice.locator('#members li', { hasText: 'bob' }).waitFor();

  await say(alice, 'hello bob');
  await lineWith(bob, 'hello bob').waitFor();
  await say(bob, 'hi alice');
  await lineWith(alice, 'hi alice').waitFor();

  const firstPid = daemon.pid;
  await daemon.stop('SIGKILL');
  for (const page of [alice, bob]) await waitForState(page, 'reconnecting');
  await daemon.start();
  assert.notEqual(daemon.pid, firstPid);
  for (const page of [alice, bob]) await waitForState(page, 'authenticated');

  // Both pages re-subscribed by themselves: lines flow both ways again.
  await say(bob, 'are you back?');
  await lineWith(alice, 'are you back?').waitFor();
  await say(alice, 'back and resubscribed');
  await lineWith(bob, 'back and resubscribed').waitFor();

  assert.equal(await stateOf(alice).textContent(), 'authenticated');
  assert.equal(await lineWith(alice, 'hello bob').count(), 1, 'history merged without duplicates');
  assert.deepEqual(pageErrors, []);

  mkdirSync(ARTIFACTS, { recursive: true });
  await alice.screenshot({ path: path.join(ARTIFACTS, 'demo.png') });
  await bob.screenshot({ path: path.join(ARTIFACTS, 'demo-bob.png') });
});
