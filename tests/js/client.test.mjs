// clients/js/socketshark.js against the real daemon (memory broker + publish
// API, a small HTTP service for the callbacks) and, for close codes and the
// JWT handshake, against a small fake WebSocket server.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';

import { SocketShark, SocketSharkError, backoffDelay } from '../../clients/js/socketshark.js';
import {
  PUBLISH_KEY,
  freePort,
  nextEvent,
  publish,
  sleep,
  startDaemon,
  startJsonService,
  waitFor,
} from './helpers.mjs';

// Node 22+ has a global WebSocket; Node 20 needs the `ws` package.
const WebSocketImpl = globalThis.WebSocket ?? WebSocket;
const FAST_RECONNECT = { initialDelay: 50, maxDelay: 400, factor: 2 };

describe('backoffDelay', () => {
  const settings = { initialDelay: 100, maxDelay: 1000, factor: 3 };

  test('the ceiling grows by factor per attempt and stops at maxDelay', () => {
    const ceilings = [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, settings, () => 1));
    assert.deepEqual(ceilings, [100, 300, 900, 1000, 1000]);
  });

  test('full jitter: the delay is random * ceiling, anywhere from 0', () => {
    assert.equal(backoffDelay(2, settings, () => 0), 0);
    assert.equal(backoffDelay(2, settings, () => 0.5), 450);
    assert.equal(backoffDelay(5, settings, () => 0.25), 250);
  });
});

describe('against the daemon', () => {
  let daemon;
  let service;
  let wsPort;
  let adminPort;
  let url;
  const revokedUsers = new Set();
  let ticketsIssued = 0;
  const clients = [];

  /** A ticket callback that hands out a new ticket on every call. */
  const freshTicket = (user) => async () => `valid:${user}#${++ticketsIssued}`;

  function newClient(options = {}) {
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      reconnect: FAST_RECONNECT,
      pingInterval: 0,
      ...options,
    });
    clients.push(client);
    return client;
  }

  before(async () => {
    service = await startJsonService({
      '/auth/ticket': ({ ticket }) =>
        ticket.startsWith('valid:')
          ? { status: 'ok', user_id: ticket.slice('valid:'.length).split('#')[0] }
          : { status: 'error', error: 'Ticket refused.' },
      '/room/before_subscribe': ({ color }) =>
        color === 'forbidden'
          ? { status: 'error', error: 'Color not allowed.', data: { allowed: ['red', 'blue'] } }
          : { status: 'ok', data: { history: ['first line'] } },
      '/room/on_message': ({ data }) => {
        if (data.reply === 'echo') return { status: 'ok', data: { echo: data.text } };
        if (data.reply === 'error') return { status: 'error', error: 'Text refused.', data: { limit: 10 } };
        return { status: 'ok' }; // no data: the daemon sends no reply
      },
      '/room/before_unsubscribe': ({ color }) =>
        color === 'sticky' ? { status: 'error', error: 'Stay a while.' } : { status: 'ok', data: { bye: true } },
      '/revocable/authorizer': ({ user_id }) =>
        revokedUsers.has(user_id) ? { status: 'error', error: 'Access revoked.' } : { status: 'ok' },
    });
    [wsPort, adminPort] = [await freePort(), await freePort()];
    url = `ws://127.0.0.1:${wsPort}`;
    daemon = await startDaemon(
      `
broker: memory
ws_host: 127.0.0.1
ws_port: ${wsPort}
ws_ping: {interval: 0}
log: {level: WARNING, format: console}
metrics: {prometheus: {host: 127.0.0.1, port: ${adminPort}}}
publish_api: {keys: [${PUBLISH_KEY}]}
http: {timeout: 2, tries: 1, wait: 0.1}
authentication:
  ticket: {validation_url: "${service.url}/auth/ticket", auth_fields: [user_id]}
services:
  room:
    extra_fields: [color]
    before_subscribe: "${service.url}/room/before_subscribe"
    on_message: "${service.url}/room/on_message"
    before_unsubscribe: "${service.url}/room/before_unsubscribe"
  revocable:
    authorizer: "${service.url}/revocable/authorizer"
    authorization_renewal_period: 0.2
    authorization_renewal_jitter: 0
`,
      { wsPort },
    );
  });

  after(async () => {
    for (const client of clients) client.close();
    await daemon?.dispose();
    await service?.close();
  });

  test('connect() authenticates with a ticket from the callback and walks the states', async () => {
    const client = newClient({ ticket: freshTicket('alice') });
    const states = [];
    client.on('state', (state) => states.push(state));
    await client.connect();
    assert.deepEqual(states, ['connecting', 'open', 'authenticated']);
    assert.equal(client.state, 'authenticated');
    const ticketsSent = service.callsTo('/auth/ticket').map((body) => body.ticket);
    assert.ok(ticketsSent.includes(`valid:alice#${ticketsIssued}`));
  });

  test('a refused ticket emits unauthorized, rejects connect() and does not reconnect', async () => {
    const client = newClient({ ticket: 'forged' });
    const unauthorized = nextEvent(client, 'unauthorized');
    await assert.rejects(client.connect());
    const [detail] = await unauthorized;
    assert.equal(detail.error, 'Ticket refused.');
    assert.equal(client.state, 'closed');
    const attempts = service.callsTo('/auth/ticket').filter((body) => body.ticket === 'forged').length;
    await sleep(3 * FAST_RECONNECT.initialDelay);
    assert.equal(service.callsTo('/auth/ticket').filter((body) => body.ticket === 'forged').length, attempts);
  });

  test('subscribe resolves with the ok reply: before_subscribe data and the extra fields', async () => {
    const client = newClient({ ticket: freshTicket('bob') });
    await client.connect();
    const reply = await client.subscribe('room.lobby', { color: 'red' }, () => {});
    assert.deepEqual(reply, {
      event: 'subscribe',
      subscription: 'room.lobby',
      status: 'ok',
      data: { history: ['first line'] },
      color: 'red',
    });
    assert.deepEqual(client.subscriptions, ['room.lobby']);
  });

  test('subscribe rejects with the server error text and data, and holds nothing', async () => {
    const client = newClient({ ticket: freshTicket('carol') });
    await client.connect();
    const refused = await client.subscribe('room.lobby', { color: 'forbidden' }).catch((error) => error);
    assert.ok(refused instanceof SocketSharkError);
    assert.equal(refused.message, 'Color not allowed.');
    assert.equal(refused.code, 'server');
    assert.deepEqual(refused.data, { allowed: ['red', 'blue'] });
    assert.equal(refused.subscription, 'room.lobby');
    assert.deepEqual(client.subscriptions, []);

    const badService = await client.subscribe('nosuch.topic').catch((error) => error);
    assert.equal(badService.message, 'Invalid service.');
  });

  test('published messages reach the subscription handler with the extra fields', async () => {
    const client = newClient({ ticket: freshTicket('dave') });
    await client.connect();
    const received = [];
    const pushed = [];
    client.on('message', (frame) => pushed.push(frame));
    await client.subscribe('room.news', { color: 'blue' }, (frame) => received.push(frame));
    await publish(adminPort, { subscription: 'room.news', data: { headline: 'hello' } });
    await waitFor(() => received.length === 1, { what: 'a published message' });
    assert.equal(received[0].event, 'message');
    assert.equal(received[0].subscription, 'room.news');
    assert.deepEqual(received[0].data, { headline: 'hello' });
    assert.equal(received[0].color, 'blue');
    assert.deepEqual(pushed, received);
  });

  test('send resolves with a reply, with null when there is none, and rejects on an error', async () => {
    const client = newClient({ ticket: freshTicket('erin') });
    await client.connect();
    await client.subscribe('room.chat', { color: 'red' });

    const echoed = await client.send('room.chat', { reply: 'echo', text: 'hi' });
    assert.deepEqual(echoed, {
      event: 'message',
      subscription: 'room.chat',
      status: 'ok',
      data: { echo: 'hi' },
      color: 'red',
    });
    assert.equal(await client.send('room.chat', { reply: 'none' }), null);
    const refused = await client.send('room.chat', { reply: 'error' }).catch((error) => error);
    assert.equal(refused.message, 'Text refused.');
    assert.deepEqual(refused.data, { limit: 10 });

    const notSubscribed = await client.send('room.elsewhere', { reply: 'echo' }).catch((error) => error);
    assert.equal(notSubscribed.message, 'Subscription does not exist.');
  });

  test('a burst of sends with and without replies is matched in order', async () => {
    const client = newClient({ ticket: freshTicket('frank') });
    await client.connect();
    await client.subscribe('room.burst', { color: 'red' });
    const kinds = ['none', 'echo', 'none', 'none', 'error', 'echo', 'none'];
    const outcomes = await Promise.allSettled(
      kinds.map((reply, index) => client.send('room.burst', { reply, text: `line ${index}` })),
    );
    const summary = outcomes.map((outcome) =>
      outcome.status === 'rejected' ? `error:${outcome.reason.message}` : outcome.value?.data?.echo ?? null,
    );
    assert.deepEqual(summary, [null, 'line 1', null, null, 'error:Text refused.', 'line 5', null]);
  });

  test('expectReply: true waits for the reply; false resolves at once', async () => {
    const client = newClient({ ticket: freshTicket('gina') });
    await client.connect();
    await client.subscribe('room.expect', { color: 'red' });
    const reply = await client.send('room.expect', { reply: 'echo', text: 'sure' }, { expectReply: true });
    assert.deepEqual(reply.data, { echo: 'sure' });

    const errors = [];
    client.on('error', (error) => errors.push(error));
    assert.equal(await client.send('room.expect', { reply: 'error' }, { expectReply: false }), null);
    // The refusal still comes back, and is reported rather than lost.
    await waitFor(() => errors.length === 1, { what: 'the late error reply' });
    assert.equal(errors[0].message, 'Text refused.');
    // Replies stay matched after it.
    assert.deepEqual((await client.send('room.expect', { reply: 'echo', text: 'after' })).data, { echo: 'after' });
  });

  test('unsubscribe resolves with the reply and stops the handler; a refusal keeps the subscription', async () => {
    const client = newClient({ ticket: freshTicket('hank') });
    await client.connect();
    const received = [];
    await client.subscribe('room.leave', { color: 'red' }, (frame) => received.push(frame));
    await client.subscribe('room.stay', { color: 'sticky' });

    const reply = await client.unsubscribe('room.leave');
    assert.deepEqual(reply, {
      event: 'unsubscribe',
      subscription: 'room.leave',
      status: 'ok',
      data: { bye: true },
      color: 'red',
    });
    assert.deepEqual(client.subscriptions, ['room.stay']);
    await publish(adminPort, { subscription: 'room.leave', data: { late: true } });
    // A ping round trip after the publish: anything still delivered would be here by now.
    await client.ping();
    assert.deepEqual(received, []);

    const refused = await client.unsubscribe('room.stay').catch((error) => error);
    assert.equal(refused.message, 'Stay a while.');
    assert.deepEqual(client.subscriptions, ['room.stay']);
  });

  test('a server-pushed unsubscribe reaches the handler and drops the subscription', async () => {
    const client = newClient({ ticket: freshTicket('ivan') });
    await client.connect();
    const received = [];
    await client.subscribe('revocable.feed', (frame) => received.push(frame));
    revokedUsers.add('ivan');
    await waitFor(() => received.length === 1, { what: 'the server-pushed unsubscribe' });
    assert.deepEqual(received[0], { event: 'unsubscribe', subscription: 'revocable.feed', error: 'Access revoked.' });
    assert.deepEqual(client.subscriptions, []);
  });

  test('ping resolves with the round trip, and periodic pings report latency', async () => {
    const client = newClient({ ticket: freshTicket('judy'), pingInterval: 30 });
    await client.connect();
    const rtt = await client.ping();
    assert.ok(rtt >= 0 && rtt < 2000, `round trip ${rtt} ms`);
    const [latency] = await nextEvent(client, 'latency');
    assert.equal(typeof latency, 'number');
    assert.equal(client.latency, latency);
  });

  test('close() rejects pending requests and never reconnects', async () => {
    const client = newClient({ ticket: freshTicket('kate') });
    await client.connect();
    await client.subscribe('room.closing', { color: 'red' });
    const pendingPing = client.ping();
    client.close();
    const error = await pendingPing.catch((reason) => reason);
    assert.equal(error.code, 'closed');
    assert.equal(client.state, 'closed');
    assert.deepEqual(client.subscriptions, []);
    await sleep(3 * FAST_RECONNECT.initialDelay);
    assert.equal(client.state, 'closed');
    await assert.rejects(client.send('room.closing', {}), /Not connected/);
  });

  // Runs last in this suite: it restarts the daemon.
  test('after the daemon is killed and restarted: re-auth with a fresh ticket, re-subscribe, messages flow', async () => {
    const client = newClient({ ticket: freshTicket('leo') });
    await client.connect();
    const received = [];
    await client.subscribe('room.survivor', { color: 'blue' }, (frame) => received.push(frame));
    // A subscription the server takes away must not come back after the reconnect.
    await client.subscribe('revocable.gone', () => {});
    revokedUsers.add('leo');
    await waitFor(() => !client.subscriptions.includes('revocable.gone'), { what: 'the revocation' });
    const subscribesBefore = service.callsTo('/room/before_subscribe').length;
    const authorizerCallsBefore = service.callsTo('/revocable/authorizer').filter((b) => b.user_id === 'leo').length;

    const reconnecting = nextEvent(client, 'state', { accept: (state) => state === 'reconnecting' });
    await daemon.stop('SIGKILL');
    const [, detail] = await reconnecting;
    assert.equal(detail.code, 1006);
    // Listen before restarting: the client may authenticate before restart() sees the port open.
    const authenticated = nextEvent(client, 'state', { accept: (state) => state === 'authenticated', timeout: 15000 });
    await daemon.restart();
    await authenticated;

    // The re-subscribe reply (before_subscribe's data) reaches the handler.
    await waitFor(() => received.some((frame) => frame.event === 'subscribe'), { what: 'the re-subscribe' });
    const resubscribed = received.find((frame) => frame.event === 'subscribe');
    assert.equal(resubscribed.status, 'ok');
    assert.deepEqual(resubscribed.data, { history: ['first line'] });

    // Other tests' clients reconnect too: look at leo's calls only.
    const leosTickets = service
      .callsTo('/auth/ticket')
      .map((body) => body.ticket)
      .filter((ticket) => ticket.startsWith('valid:leo#'));
    assert.equal(leosTickets.length, 2);
    assert.notEqual(leosTickets[0], leosTickets[1]);
    const resubscribeBodies = service
      .callsTo('/room/before_subscribe')
      .slice(subscribesBefore)
      .filter((body) => body.user_id === 'leo');
    assert.deepEqual(resubscribeBodies, [{ subscription: 'room.survivor', color: 'blue', user_id: 'leo' }]);
    assert.deepEqual(client.subscriptions, ['room.survivor']);
    assert.equal(
      service.callsTo('/revocable/authorizer').filter((b) => b.user_id === 'leo').length,
      authorizerCallsBefore,
    );

    await publish(adminPort, { subscription: 'room.survivor', data: { again: true } });
    await waitFor(() => received.some((frame) => frame.event === 'message'), { what: 'a message after restart' });
    const message = received.find((frame) => frame.event === 'message');
    assert.deepEqual(message.data, { again: true });
    assert.equal(message.color, 'blue');
    assert.deepEqual((await client.send('room.survivor', { reply: 'echo', text: 'back' })).data, { echo: 'back' });
  });
});

/** An HS256 JWT, signed here so the test needs no JWT library. */
function signJwt(claims, secret) {
  const encode = (part) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

describe('JWT at the handshake, against the daemon', () => {
  const secret = 'a-test-secret-that-is-long-enough-for-hs256';
  let daemon;
  let service;
  let url;
  const clients = [];
  const inOneMinute = () => Math.floor(Date.now() / 1000) + 60;

  before(async () => {
    service = await startJsonService({ '/private/before_subscribe': () => ({ status: 'ok' }) });
    const wsPort = await freePort();
    url = `ws://127.0.0.1:${wsPort}`;
    daemon = await startDaemon(
      `
broker: memory
ws_host: 127.0.0.1
ws_port: ${wsPort}
ws_ping: {interval: 0}
log: {level: WARNING, format: console}
authentication:
  jwt: {secret: "${secret}", algorithms: [HS256], auth_fields: [user_id]}
services:
  private:
    before_subscribe: "${service.url}/private/before_subscribe"
`,
      { wsPort },
    );
  });

  after(async () => {
    for (const client of clients) client.close();
    await daemon?.dispose();
    await service?.close();
  });

  test('a valid token authenticates the session: its claims reach the callbacks', async () => {
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      token: async () => signJwt({ user_id: 'mia', exp: inOneMinute() }, secret),
      pingInterval: 0,
    });
    clients.push(client);
    const states = [];
    client.on('state', (state, detail) => states.push(state === 'open' ? `open:${detail.protocol}` : state));
    await client.connect();
    assert.deepEqual(states, ['connecting', 'open:bearer', 'authenticated']);
    await client.subscribe('private.inbox');
    assert.deepEqual(service.callsTo('/private/before_subscribe'), [{ subscription: 'private.inbox', user_id: 'mia' }]);
  });

  test('a token with a wrong signature is closed with 4401: unauthorized, no reconnect', async () => {
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      token: signJwt({ user_id: 'mia', exp: inOneMinute() }, 'not-the-secret'),
      reconnect: { initialDelay: 10, maxDelay: 20, factor: 2 },
      pingInterval: 0,
    });
    clients.push(client);
    const attempts = [];
    client.on('state', (state) => state === 'connecting' && attempts.push(state));
    const unauthorized = nextEvent(client, 'unauthorized');
    await assert.rejects(client.connect(), /Unauthorized/);
    assert.equal((await unauthorized)[0].code, 4401);
    await sleep(200);
    assert.equal(client.state, 'closed');
    assert.equal(attempts.length, 1);
  });
});

/** Answers {"event":"ping","data":D} as the daemon does. */
function answerPings(socket) {
  socket.on('message', (raw) => {
    const frame = JSON.parse(raw);
    if (frame.event === 'ping') socket.send(JSON.stringify({ event: 'pong', data: frame.data }));
  });
}

describe('against a fake server', () => {
  let server;
  let url;
  const handshakes = [];
  let onConnection = () => {};

  before(async () => {
    server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has('bearer') ? 'bearer' : false),
    });
    await new Promise((resolve) => server.once('listening', resolve));
    url = `ws://127.0.0.1:${server.address().port}`;
    server.on('connection', (socket, request) => {
      const offered = request.headers['sec-websocket-protocol'];
      handshakes.push({ protocols: offered ? offered.split(/,\s*/) : null });
      onConnection(socket);
    });
  });

  after(async () => {
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  test('close code 4401 emits unauthorized and the client never reconnects', async () => {
    handshakes.length = 0;
    onConnection = (socket) => socket.close(4401, 'bad token');
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      token: 'expired.jwt.token',
      reconnect: { initialDelay: 10, maxDelay: 20, factor: 2 },
      pingInterval: 0,
    });
    const unauthorized = nextEvent(client, 'unauthorized');
    await assert.rejects(client.connect(), /Unauthorized/);
    const [detail] = await unauthorized;
    assert.equal(detail.code, 4401);
    assert.equal(client.state, 'closed');
    await sleep(200);
    assert.equal(handshakes.length, 1);
  });

  test('the JWT goes in the subprotocol, freshly fetched for each connection', async () => {
    handshakes.length = 0;
    let tokensIssued = 0;
    // The first connection is dropped as on a broker loss (1012); the second stays.
    onConnection = (socket) => {
      if (handshakes.length === 1) socket.close(1012, 'service restart');
      else answerPings(socket);
    };
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      token: async () => `header.payload${++tokensIssued}.signature`,
      reconnect: { initialDelay: 10, maxDelay: 20, factor: 2 },
      pingInterval: 0,
    });
    const opened = [];
    client.on('state', (state, detail) => state === 'open' && opened.push(detail.protocol));
    await client.connect();
    await waitFor(() => handshakes.length === 2 && client.state === 'authenticated', { what: 'the reconnect' });
    assert.deepEqual(handshakes, [
      { protocols: ['bearer', 'header.payload1.signature'] },
      { protocols: ['bearer', 'header.payload2.signature'] },
    ]);
    assert.deepEqual(opened, ['bearer', 'bearer']);
    assert.equal(client.state, 'authenticated');
    client.close();
  });

  test('reconnect delays follow the backoff with the injected random, capped at maxDelay', async () => {
    handshakes.length = 0;
    onConnection = (socket) => socket.close(1012, 'service restart');
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      reconnect: { initialDelay: 10, maxDelay: 40, factor: 2 },
      pingInterval: 0,
      random: () => 1,
    });
    const scheduled = [];
    client.on('state', (state, detail) => {
      if (state === 'reconnecting') scheduled.push([detail.attempt, detail.delay, detail.code]);
    });
    client.connect();
    await waitFor(() => scheduled.length >= 5, { what: 'five reconnects' });
    client.close();
    assert.deepEqual(scheduled.slice(0, 5), [
      [0, 10, 1012],
      [1, 20, 1012],
      [2, 40, 1012],
      [3, 40, 1012],
      [4, 40, 1012],
    ]);
  });

  test('close code 4429 backs off by at least half of maxDelay', async () => {
    handshakes.length = 0;
    onConnection = (socket) => socket.close(4429, 'too many');
    const client = new SocketShark(url, {
      WebSocket: WebSocketImpl,
      reconnect: { initialDelay: 10, maxDelay: 1000, factor: 2 },
      pingInterval: 0,
      random: () => 0,
    });
    const reconnecting = nextEvent(client, 'state', { accept: (state) => state === 'reconnecting' });
    const connected = client.connect();
    const [, detail] = await reconnecting;
    client.close();
    assert.equal(detail.code, 4429);
    assert.equal(detail.delay, 500);
    await connected;
  });
});
