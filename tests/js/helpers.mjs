// Shared test fixtures: free ports, the real daemon, small HTTP services,
// the publish API, and bounded waiting. Every process started here is stopped
// by its PID.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DAEMON_BINARY = process.env.SOCKETSHARK_BINARY ?? path.join(REPO, 'build/socketshark');
export const PUBLISH_KEY = 'test-publish-key';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `check` until it returns a truthy value; throws after `timeout` ms. */
export async function waitFor(check, { timeout = 5000, interval = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the next emission of `type` by a SocketShark client that satisfies `accept`. */
export function nextEvent(client, type, { accept = () => true, timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`Timed out after ${timeout} ms waiting for '${type}'`));
    }, timeout);
    const off = client.on(type, (...args) => {
      if (!accept(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    });
  });
}

async function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * This process's environment without SOCKETSHARK_* variables: the daemon reads
 * every one of them as a configuration override and refuses unknown keys
 * (SOCKETSHARK_BINARY, set for the tests, would stop it from starting).
 */
function inheritedEnvironment() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SOCKETSHARK_')));
}

/**
 * A child process that is ready once `port` on 127.0.0.1 accepts connections.
 * `start()` can be called again after `stop()` (same command, same port).
 */
export function managedProcess(command, args, { port, env = {}, startTimeout = 10000, name = command } = {}) {
  return {
    process: null,
    output: '',
    get pid() {
      return this.process?.pid;
    },
    async start() {
      const child = spawn(command, args, { env: { ...inheritedEnvironment(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      this.process = child;
      child.stdout.on('data', (chunk) => (this.output += chunk));
      child.stderr.on('data', (chunk) => (this.output += chunk));
      let exited = null;
      child.once('exit', (code, signal) => (exited = { code, signal }));
      child.once('error', (error) => (exited = { error: error.message }));
      await waitFor(
        async () => {
          if (exited) throw new Error(`${name} exited early (${JSON.stringify(exited)}):\n${this.output}`);
          return canConnect(port);
        },
        { timeout: startTimeout, what: `${name} on port ${port}` },
      );
      return this;
    },
    /** Signals the process by PID and waits (bounded) for it to exit; SIGKILL if it does not. */
    async stop(signal = 'SIGTERM', timeout = 5000) {
      const child = this.process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      process.kill(child.pid, signal);
      let timer;
      const timedOut = new Promise((resolve) => (timer = setTimeout(resolve, timeout, 'timeout')));
      const outcome = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * Starts build/socketshark with `configText` (YAML) written to a temporary
 * file; resolves once the WebSocket port accepts connections.
 */
export async function startDaemon(configText, { wsPort, env = {} } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'socketshark-js-'));
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, configText);
  const daemon = managedProcess(DAEMON_BINARY, ['-c', configPath], { port: wsPort, env, name: 'socketshark' });
  daemon.restart = () => daemon.start();
  daemon.dispose = async () => {
    await daemon.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  await daemon.start();
  return daemon;
}

/**
 * A JSON-over-HTTP service on 127.0.0.1: `routes` maps a path to
 * `(body) => answer`. Every call is recorded in `calls` as {path, body}.
 */
export async function startJsonService(routes) {
  const calls = [];
  const server = http.createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const body = raw ? JSON.parse(raw) : null;
    calls.push({ path: request.url, body });
    const route = routes[request.url];
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    const answer = await route(body);
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    calls,
    callsTo: (route) => calls.filter((call) => call.path === route).map((call) => call.body),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** Publishes one message through the daemon's HTTP publish API. */
export async function publish(adminPort, message, key = PUBLISH_KEY) {
  const response = await fetch(`http://127.0.0.1:${adminPort}/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(5000),
  });
  const answer = await response.json();
  if (response.status !== 200) throw new Error(`publish failed: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}
