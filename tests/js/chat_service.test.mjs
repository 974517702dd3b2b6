// examples/chat_service.py behind the real daemon, in its publish-API mode
// (memory broker, no Redis), driven by the JS client from Node. The browser
// test covers its Redis mode.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';

import { SocketShark } from '../../clients/js/socketshark.js';
import { DAEMON_BINARY, REPO, freePort, managedProcess, waitFor } from './helpers.mjs';

const WebSocketImpl = globalThis.WebSocket ?? WebSocket;
const PRESENCE_TIMEOUT = 1.5; // seconds without a heartbeat before a member is dropped

describe('examples/chat_service.py with the publish API', () => {
  let service;
  let daemon;
  let url;
  const clients = [];

  async function join(name, room, clientId = `${name}-tab`) {
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      ticket: `user:${name}`,
      reconnect: { initialDelay: 50, maxDelay: 200, factor: 2 },
      pingInterval: 0,
    });
    clients.push(client);
    await client.connect();
    const frames = [];
    const reply = await client.subscribe(`chat.${room}`, { client_id: clientId }, (frame) => frames.push(frame));
    const published = () => frames.filter((frame) => frame.event === 'message').map((frame) => frame.data);
    return { client, reply, frames, published };
  }

  before(async () => {
    const [servicePort, wsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    url = `ws://127.0.0.1:${wsPort}`;
    service = managedProcess(
      '/usr/bin/python3',
      [
        path.join(REPO, 'examples/chat_service.py'),
        '--port', String(servicePort),
        '--publish-url', `http://127.0.0.1:${adminPort}/publish`,
        '--publish-key', 'chat-demo-key',
        '--presence-timeout', String(PRESENCE_TIMEOUT),
        '--muted', 'mallory',
      ],
      { port: servicePort, name: 'chat_service.py', env: { PYTHONDONTWRITEBYTECODE: '1' } },
    );
    await service.start();

    const env = {
      SOCKETSHARK_BROKER: 'memory',
      SOCKETSHARK_WS_PORT: String(wsPort),
      SOCKETSHARK_METRICS__PROMETHEUS__PORT: String(adminPort),
      SOCKETSHARK_AUTHENTICATION__TICKET__VALIDATION_URL: `${serviceUrl}/auth/ticket`,
      SOCKETSHARK_SERVICES__CHAT__HEARTBEAT_PERIOD: '0.2',
    };
    for (const callback of [
      'authorizer',
      'before_subscribe',
      'on_subscribe',
      'on_message',
      'before_unsubscribe',
      'on_unsubscribe',
      'on_authorization_change',
      'on_heartbeat',
    ]) {
      env[`SOCKETSHARK_SERVICES__CHAT__${callback.toUpperCase()}`] = `${serviceUrl}/chat/${callback}`;
    }
    daemon = managedProcess(DAEMON_BINARY, ['-c', path.join(REPO, 'examples/config.yaml')], {
      port: wsPort,
      name: 'socketshark',
      env,
    });
    await daemon.start();
  });

  after(async () => {
    for (const client of clients) client.close();
    await daemon?.stop('SIGKILL');
    await service?.stop();
  });

  test('tickets: "user:<name>" is accepted, anything else refused', async () => {
    const forged = new SocketShark(url, { WebSocket: WebSocketImpl, ticket: 'admin', pingInterval: 0 });
    clients.push(forged);
    await assert.rejects(forged.connect(), /Invalid ticket\./);
  });

  test('the authorizer refuses rooms with invalid names', async () => {
    const { client } = await join('ann', 'lobby');
    await assert.rejects(client.subscribe('chat.Not A Room', { client_id: 'x' }), /No such room\./);
  });

  test('a line goes through on_message to every subscriber, and the sender gets its id', async () => {
    const alice = await join('alice', 'garden');
    const bob = await join('bob', 'garden');
    assert.deepEqual(bob.reply.data.members, ['alice']);

    const reply = await alice.client.send('chat.garden', { text: '  roses are red  ' }, { expectReply: true });
    assert.equal(typeof reply.data.id, 'number');
    for (const member of [alice, bob]) {
      await waitFor(() => member.published().some((data) => data.type === 'line'), { what: 'the line' });
      const line = member.published().find((data) => data.type === 'line');
      assert.deepEqual({ id: line.id, user: line.user, text: line.text }, { id: reply.data.id, user: 'alice', text: 'roses are red' });
    }
    await assert.rejects(alice.client.send('chat.garden', { text: '' }), /A message is 1 to 500 characters\./);

    // A newcomer gets the history from before_subscribe.
    const carol = await join('carol', 'garden');
    const texts = carol.reply.data.history.map((line) => line.text);
    assert.deepEqual(texts, ['alice joined', 'bob joined', 'roses are red']);
    assert.deepEqual(carol.reply.data.members, ['alice', 'bob']);
  });

  test('a muted user (authorizer field can_post) may read but not post', async () => {
    const mallory = await join('mallory', 'quiet');
    await assert.rejects(mallory.client.send('chat.quiet', { text: 'spam' }), /You are muted in this room\./);
  });

  test('unsubscribing announces the leave and updates the members', async () => {
    const dora = await join('dora', 'porch');
    const emil = await join('emil', 'porch');
    await emil.client.unsubscribe('chat.porch');
    await waitFor(() => dora.published().some((data) => data.type === 'system' && data.text === 'emil left'), {
      what: "emil's leave",
    });
    assert.deepEqual(dora.published().filter((data) => data.type === 'presence').at(-1).members, ['dora']);
  });

  test('two tabs of one user count once; a member whose heartbeats stop is dropped', async () => {
    const fay = await join('fay', 'attic', 'fay-tab-1');
    await join('fay', 'attic', 'fay-tab-2');
    const gus = await join('gus', 'attic');
    assert.deepEqual(gus.reply.data.members, ['fay']);

    // Killing the daemon skips on_unsubscribe; fay's pages close while it is down.
    await daemon.stop('SIGKILL');
    for (const client of clients) if (client !== gus.client) client.close();
    await daemon.start();
    await waitFor(() => gus.client.state === 'authenticated', { what: "gus's reconnect" });

    // gus re-subscribed with the same client_id and heartbeats; fay does not.
    await waitFor(() => gus.published().some((data) => data.type === 'system' && data.text === 'fay left'), {
      timeout: PRESENCE_TIMEOUT * 4 * 1000,
      what: 'fay dropped for missing heartbeats',
    });
    assert.deepEqual(gus.published().filter((data) => data.type === 'presence').at(-1).members, ['gus']);
    assert.equal(fay.client.state, 'closed');
  });
});
