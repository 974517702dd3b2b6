// SocketShark client for browsers and Node: one dependency-free ES module.
//
// Protocol notes that shape this code (see docs/client.md):
// - The server handles a connection's events strictly one after another and
//   answers in that order, so replies are matched to requests by position
//   (checked against the reply's `event` and `subscription`).
// - Replies carry `status`; frames the server pushes on its own (published
//   messages, a server-side unsubscribe) do not.
// - A `message` event may get no reply at all (the service's on_message
//   answered without `data`). When it is unknown whether a reply will come,
//   the client sends a `ping` behind it: the pong proves the message has been
//   fully handled, so a reply that has not arrived by then never will.

// resetAfter: a connection must stay ready this long (ms) before the backoff
// starts again from the first delay, so that a server that accepts and then
// drops every connection at once still sees growing delays.
const DEFAULT_RECONNECT = Object.freeze({ initialDelay: 1000, maxDelay: 30000, factor: 2, resetAfter: 5000 });
const DEFAULT_PING_INTERVAL = 20000;

/** Close codes with a meaning for the client (SPEC §4, §7). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // server shutting down: reconnect
  POLICY: 1008, // client could not keep up: reconnect
  TOO_BIG: 1009, // a frame over the server's limit: reconnect
  SERVICE_RESTART: 1012, // broker lost: reconnect
  PING_TIMEOUT: 4408, // server saw no WebSocket pong: reconnect
  UNAUTHORIZED: 4401, // bad token: never reconnect
  TOO_MANY: 4429, // back off before reconnecting
});

/** Client-side close code for a connection the client gave up on (no pong). */
const CLIENT_PING_TIMEOUT = 4000;
/** Client-side close code when authentication failed transiently. */
const CLIENT_RETRY = 4001;

/**
 * Reconnect delay with exponential backoff and full jitter:
 * random(0, min(maxDelay, initialDelay * factor ** attempt)).
 * `attempt` counts from 0 for the first retry after a connection was lost.
 */
export function backoffDelay(attempt, { initialDelay, maxDelay, factor } = DEFAULT_RECONNECT, random = Math.random) {
  const ceiling = Math.min(maxDelay, initialDelay * factor ** attempt);
  return random() * ceiling;
}

/** A request the server refused, or one that could not complete. */
export class SocketSharkError extends Error {
  constructor(message, { event = null, subscription = null, data = undefined, reply = null, code = 'server' } = {}) {
    super(message);
    this.name = 'SocketSharkError';
    /** 'server' (an error reply), 'closed' (connection lost or closed) or 'invalid' (refused locally). */
    this.code = code;
    this.event = event;
    this.subscription = subscription;
    this.data = data;
    /** The server's error reply, when there was one. */
    this.reply = reply;
  }
}

export class SocketShark {
  #url;
  #options;
  #WebSocket;
  #random;
  #listeners = new Map();
  #state = 'closed';
  #socket = null;
  #wanted = false; // true between connect() and close() / a final failure
  #attempt = 0;
  #reconnectTimer = null;
  #stableTimer = null;
  #pingTimer = null;
  #pingTimeoutTimer = null;
  #pingOutstanding = false;
  #pending = []; // requests in the order they were sent
  #subscriptions = new Map(); // name -> {extra, onMessage, phase, waiter}
  #fenceScheduled = false;
  #nextPingId = 1;
  #latency = null;
  #connectWaiters = [];
  #generation = 0; // bumped by close(): work started before it is abandoned

  /**
   * @param {string} url ws:// or wss:// address of the daemon.
   * @param {object} [options] see socketshark.d.ts.
   */
  constructor(url, options = {}) {
    this.#url = url;
    const reconnect = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...(options.reconnect || {}) };
    this.#options = {
      ticket: options.ticket ?? null,
      token: options.token ?? null,
      reconnect,
      pingInterval: options.pingInterval ?? DEFAULT_PING_INTERVAL,
      pingTimeout: options.pingTimeout ?? 0,
    };
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#random = options.random ?? Math.random;
    if (typeof this.#WebSocket !== 'function') {
      throw new TypeError('No WebSocket implementation: pass options.WebSocket');
    }
  }

  /** 'connecting' | 'open' | 'authenticated' | 'reconnecting' | 'closed' */
  get state() {
    return this.#state;
  }

  /** Round-trip time of the last application ping in milliseconds, or null. */
  get latency() {
    return this.#latency;
  }

  /** Names of the subscriptions the client holds (or is re-establishing). */
  get subscriptions() {
    return [...this.#subscriptions.keys()];
  }

  /** Adds a listener; returns a function that removes it. */
  on(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }

  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  /**
   * Opens the connection (and keeps it open until close()). Resolves once the
   * client is ready for requests: authenticated, or open when no credentials
   * are configured. Rejects if the client is closed before that (close(),
   * close code 4401, or a refused ticket).
   */
  connect() {
    const ready = new Promise((resolve, reject) => {
      if (this.#isReady()) resolve();
      else this.#connectWaiters.push({ resolve, reject });
    });
    if (!this.#wanted) {
      this.#wanted = true;
      this.#attempt = 0;
      this.#open();
    }
    return ready;
  }

  /**
   * Closes the connection for good (no reconnect). Pending requests and
   * subscribe calls reject; subscriptions are forgotten.
   */
  close(code = CloseCode.NORMAL, reason = '') {
    this.#wanted = false;
    this.#generation++;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const socket = this.#socket;
    this.#dropConnection();
    if (socket) {
      try {
        socket.close(code, reason);
      } catch {
        socket.close();
      }
    }
    const closed = () => new SocketSharkError('Client closed.', { code: 'closed' });
    for (const [name, subscription] of this.#subscriptions) {
      subscription.waiter?.reject(Object.assign(closed(), { subscription: name, event: 'subscribe' }));
    }
    this.#subscriptions.clear();
    this.#failConnectWaiters(closed());
    this.#setState('closed', { code, reason });
  }

  /**
   * Subscribes to `name` ("service.topic") with the service's extra fields.
   * `onMessage(frame)` receives every frame the server sends about this
   * subscription on its own: published messages (event "message"), the
   * server's unsubscribe (event "unsubscribe", with `error`), and the
   * replies to re-subscribing after a reconnect (event "subscribe").
   * Resolves with the server's ok reply (which carries before_subscribe's
   * `data`); rejects with a SocketSharkError carrying the server's error.
   * Called while disconnected, it waits for the connection.
   */
  subscribe(name, extra = {}, onMessage = undefined) {
    if (typeof extra === 'function') [extra, onMessage] = [{}, extra];
    if (typeof name !== 'string' || name === '') {
      return Promise.reject(new SocketSharkError('Invalid subscription format.', { code: 'invalid', event: 'subscribe' }));
    }
    if (this.#subscriptions.has(name)) {
      return Promise.reject(
        new SocketSharkError('Already subscribed.', { code: 'invalid', event: 'subscribe', subscription: name }),
      );
    }
    return new Promise((resolve, reject) => {
      const subscription = { extra: { ...extra }, onMessage, phase: 'wanted', waiter: { resolve, reject } };
      this.#subscriptions.set(name, subscription);
      if (this.#isReady()) this.#sendSubscribe(name, subscription);
    });
  }

  /**
   * Unsubscribes. Resolves with the server's ok reply (with
   * before_unsubscribe's `data`), or with null when there was no live
   * subscription on the server to remove (the client was disconnected).
   * Rejects with the server's error, in which case the subscription stays.
   */
  unsubscribe(name) {
    const subscription = this.#subscriptions.get(name);
    if (!subscription) {
      return Promise.reject(
        new SocketSharkError('Subscription does not exist.', { code: 'invalid', event: 'unsubscribe', subscription: name }),
      );
    }
    if (!this.#isReady()) {
      // Nothing live on the server (a lost connection drops every subscription).
      this.#subscriptions.delete(name);
      subscription.waiter?.reject(
        new SocketSharkError('Unsubscribed before the subscription completed.', {
          code: 'closed',
          event: 'subscribe',
          subscription: name,
        }),
      );
      return Promise.resolve(null);
    }
    subscription.phase = 'unsubscribing';
    return this.#request({ event: 'unsubscribe', subscription: name }, { onClose: 'resolve-null' }).then(
      (reply) => {
        this.#subscriptions.delete(name);
        return reply;
      },
      (error) => {
        if (error.code === 'closed') {
          this.#subscriptions.delete(name);
          return null;
        }
        // The subscribe sent just before failed, so there was nothing to remove.
        if (!this.#subscriptions.has(name)) return null;
        if (this.#subscriptions.get(name) === subscription) subscription.phase = 'live';
        throw error;
      },
    );
  }

  /**
   * Sends a `message` event with `data` to the service of subscription `name`.
   *
   * The service may answer with data (the promise resolves with the reply),
   * refuse (it rejects with the error), or answer without data (the server
   * sends nothing: the promise resolves with null). `expectReply` says what
   * to assume:
   * - undefined (default): unknown; the client sends a ping behind the
   *   message (one per burst of sends) so it learns when no reply is coming.
   * - true: the service always answers with data; no ping is sent.
   * - false: resolve with null as soon as the frame is sent; an error reply
   *   that still comes is emitted as an 'error' event.
   * Rejects at once when the client is not ready (disconnected).
   */
  send(name, data, { expectReply = undefined } = {}) {
    const frame = { event: 'message', subscription: name, data };
    if (expectReply === false) {
      if (!this.#isReady()) return Promise.reject(this.#notConnected('message', name));
      this.#request(frame, { mayHaveNoReply: true }).catch((error) => {
        if (error.code === 'server') this.#emit('error', error);
      });
      return Promise.resolve(null);
    }
    return this.#request(frame, { mayHaveNoReply: expectReply !== true });
  }

  /** Sends an application ping; resolves with the round-trip time in ms. */
  ping() {
    const id = `p${this.#nextPingId++}`;
    const started = now();
    return this.#request({ event: 'ping', data: id }).then(() => {
      const latency = now() - started;
      this.#latency = latency;
      this.#emit('latency', latency);
      return latency;
    });
  }

  // ---- connection lifecycle ----

  #isReady() {
    const needsAuth = this.#options.ticket !== null || this.#options.token !== null;
    return this.#socket !== null && (this.#state === 'authenticated' || (this.#state === 'open' && !needsAuth));
  }

  async #open() {
    const generation = this.#generation;
    this.#setState('connecting', { attempt: this.#attempt });
    let protocols;
    if (this.#options.token !== null) {
      let token;
      try {
        token = await resolveCredential(this.#options.token);
      } catch (error) {
        if (generation !== this.#generation) return;
        this.#emit('error', asError(error, 'Could not get a token.'));
        this.#scheduleReconnect({ code: null });
        return;
      }
      if (generation !== this.#generation) return;
      protocols = ['bearer', token];
    }
    let socket;
    try {
      socket = protocols ? new this.#WebSocket(this.#url, protocols) : new this.#WebSocket(this.#url);
    } catch (error) {
      this.#emit('error', asError(error, 'Could not open the WebSocket.'));
      this.#scheduleReconnect({ code: null });
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#socket === socket) this.#onOpen();
    };
    socket.onmessage = (event) => {
      if (this.#socket === socket) this.#onFrame(event.data);
    };
    socket.onerror = () => {
      // Browsers give no detail here; the close event that follows decides.
      if (this.#socket === socket) this.#emit('error', new SocketSharkError('WebSocket error.', { code: 'closed' }));
    };
    socket.onclose = (event) => {
      if (this.#socket === socket) this.#onClose(event.code, event.reason);
    };
  }

  async #onOpen() {
    const socket = this.#socket;
    this.#setState('open', { protocol: socket.protocol });
    if (this.#options.token !== null) {
      // The daemon accepts the upgrade even for a bad token and closes with
      // 4401 before reading a frame, so an answered ping proves the token.
      try {
        await this.#request({ event: 'ping', data: 'token' }, { whileConnecting: true });
      } catch {
        return; // the close event decides what happens next
      }
      if (this.#socket !== socket) return;
    }
    if (this.#options.ticket !== null && !(await this.#authenticateWithTicket(socket))) return;
    if (this.#socket !== socket) return;
    if (this.#options.ticket !== null || this.#options.token !== null) this.#setState('authenticated');
    this.#onReady();
  }

  /** Sends the auth event; false when the connection is being dropped or given up. */
  async #authenticateWithTicket(socket) {
    let ticket;
    try {
      ticket = await resolveCredential(this.#options.ticket);
    } catch (error) {
      if (this.#socket !== socket) return false;
      this.#emit('error', asError(error, 'Could not get a ticket.'));
      this.#restart();
      return false;
    }
    if (this.#socket !== socket) return false;
    try {
      await this.#request({ event: 'auth', method: 'ticket', ticket }, { whileConnecting: true });
      return true;
    } catch (error) {
      if (this.#socket !== socket || error.code === 'closed') return false;
      if (error.message === 'Service unavailable.') {
        // The ticket service is down: worth another try later.
        this.#emit('error', error);
        this.#restart();
      } else {
        this.#emit('unauthorized', { error: error.message, reply: error.reply });
        this.#giveUp(error);
      }
      return false;
    }
  }

  #onReady() {
    if (this.#options.reconnect) {
      this.#stableTimer = setTimeout(() => (this.#attempt = 0), this.#options.reconnect.resetAfter);
    }
    this.#startPinging();
    for (const [name, subscription] of this.#subscriptions) this.#sendSubscribe(name, subscription);
    const waiters = this.#connectWaiters;
    this.#connectWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #onClose(code, reason) {
    this.#dropConnection();
    if (code === CloseCode.UNAUTHORIZED) {
      this.#emit('unauthorized', { code, reason });
      this.#giveUp(new SocketSharkError('Unauthorized.', { code: 'closed' }), { code, reason });
      return;
    }
    if (!this.#wanted) {
      this.#setState('closed', { code, reason });
      return;
    }
    this.#scheduleReconnect({ code, reason });
  }

  /** Closes the current socket and reconnects with backoff. */
  #restart(code = CLIENT_RETRY, reason = 'retry') {
    const socket = this.#socket;
    this.#dropConnection();
    socket?.close(code, reason);
    this.#scheduleReconnect({ code, reason });
  }

  /** Stops for good after a refusal that retrying cannot fix. */
  #giveUp(error, detail = {}) {
    const socket = this.#socket;
    this.#wanted = false;
    this.#dropConnection();
    socket?.close(CloseCode.NORMAL);
    this.#failConnectWaiters(error);
    this.#setState('closed', detail);
  }

  #scheduleReconnect({ code, reason }) {
    if (!this.#wanted) return;
    if (this.#options.reconnect === false) {
      this.#wanted = false;
      this.#failConnectWaiters(new SocketSharkError('Connection closed.', { code: 'closed' }));
      this.#setState('closed', { code, reason });
      return;
    }
    const settings = this.#options.reconnect;
    const attempt = this.#attempt++;
    const delay =
      code === CloseCode.TOO_MANY
        ? // Told to back off: wait between half and all of the longest delay.
          settings.maxDelay * (0.5 + this.#random() / 2)
        : backoffDelay(attempt, settings, this.#random);
    this.#setState('reconnecting', { code, reason, delay, attempt });
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#wanted) this.#open();
    }, delay);
  }

  /** Forgets the current socket: timers stop, pending requests settle. */
  #dropConnection() {
    const socket = this.#socket;
    this.#socket = null;
    // No-ops rather than null: Node's `ws` throws an 'error' event nobody listens to.
    if (socket) socket.onopen = socket.onmessage = socket.onerror = socket.onclose = ignore;
    clearTimeout(this.#stableTimer);
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pingTimeoutTimer);
    this.#pingTimer = this.#pingTimeoutTimer = null;
    const pending = this.#pending;
    this.#pending = [];
    for (const request of pending) request.onConnectionLost();
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.phase !== 'unsubscribing') subscription.phase = 'wanted';
    }
  }

  #failConnectWaiters(error) {
    const waiters = this.#connectWaiters;
    this.#connectWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  #setState(state, detail = {}) {
    if (this.#state === state && state !== 'reconnecting') return;
    const previous = this.#state;
    this.#state = state;
    this.#emit('state', state, { previous, ...detail });
  }

  // ---- pings ----

  #startPinging() {
    const interval = this.#options.pingInterval;
    if (!interval) return;
    this.#pingTimer = setInterval(() => this.#pingOnce(), interval);
  }

  #pingOnce() {
    if (this.#pingOutstanding) return; // still waiting behind a slow event
    this.#pingOutstanding = true;
    const socket = this.#socket;
    const timeout = this.#options.pingTimeout;
    if (timeout) {
      this.#pingTimeoutTimer = setTimeout(() => {
        this.#pingTimeoutTimer = null;
        if (this.#socket === socket) {
          this.#emit('error', new SocketSharkError('No pong from the server: reconnecting.', { code: 'closed' }));
          this.#restart(CLIENT_PING_TIMEOUT, 'ping timeout');
        }
      }, timeout);
    }
    const settled = () => {
      this.#pingOutstanding = false;
      clearTimeout(this.#pingTimeoutTimer);
      this.#pingTimeoutTimer = null;
    };
    this.ping().then(settled, settled);
  }

  // ---- requests and replies ----

  #notConnected(event, subscription) {
    return new SocketSharkError('Not connected.', { code: 'closed', event, subscription });
  }

  #sendSubscribe(name, subscription) {
    subscription.phase = 'subscribing';
    const frame = { ...subscription.extra, event: 'subscribe', subscription: name };
    this.#request(frame, { onClose: 'keep' }).then(
      (reply) => {
        if (this.#subscriptions.get(name) !== subscription) return;
        if (subscription.phase === 'subscribing') subscription.phase = 'live';
        if (subscription.waiter) {
          subscription.waiter.resolve(reply);
          subscription.waiter = null;
        } else {
          this.#deliver(subscription, reply); // a re-subscribe after reconnect
        }
      },
      (error) => {
        if (error.code === 'closed' || this.#subscriptions.get(name) !== subscription) return;
        this.#subscriptions.delete(name);
        if (subscription.waiter) {
          subscription.waiter.reject(error);
        } else {
          this.#emit('error', error);
          this.#deliver(subscription, error.reply);
        }
      },
    );
  }

  /**
   * Sends `frame` and returns a promise for its reply.
   * mayHaveNoReply: the server may answer nothing (a `message` event).
   * onClose: what a lost connection does to the promise: 'reject' (default),
   *   'resolve-null', or 'keep' (never settles; the caller retries).
   */
  #request(frame, { mayHaveNoReply = false, onClose = 'reject', whileConnecting = false } = {}) {
    if (!this.#socket || (!whileConnecting && !this.#isReady())) {
      return Promise.reject(this.#notConnected(frame.event, frame.subscription ?? null));
    }
    return new Promise((resolve, reject) => {
      const request = {
        event: frame.event,
        signature: signatureOf(frame.event, frame.subscription),
        mayHaveNoReply,
        resolve,
        reject,
        onConnectionLost: () => {
          if (onClose === 'resolve-null') resolve(null);
          else if (onClose === 'reject') reject(this.#notConnected(frame.event, frame.subscription ?? null));
        },
      };
      // Two requests that may draw the same reply must be told apart by a
      // reply in between; a ping is such a separator.
      if (this.#needsSeparatorBefore(request.signature)) this.#sendFence();
      this.#pending.push(request);
      this.#socket.send(JSON.stringify(frame));
      if (mayHaveNoReply) this.#scheduleFence();
    });
  }

  /** True when an unanswered may-have-no-reply request could take a reply meant for `signature`. */
  #needsSeparatorBefore(signature) {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const earlier = this.#pending[i];
      if (earlier.signature === signature) {
        if (earlier.mayHaveNoReply) return true;
      } else if (!earlier.mayHaveNoReply) {
        return false;
      }
    }
    return false;
  }

  /** Sends one ping after the current burst of sends unless something else will follow them. */
  #scheduleFence() {
    if (this.#fenceScheduled) return;
    this.#fenceScheduled = true;
    queueMicrotask(() => {
      this.#fenceScheduled = false;
      const last = this.#pending[this.#pending.length - 1];
      if (last && last.mayHaveNoReply && this.#socket) this.#sendFence();
    });
  }

  #sendFence() {
    const frame = { event: 'ping', data: `f${this.#nextPingId++}` };
    this.#pending.push({
      event: 'ping',
      signature: signatureOf('ping'),
      mayHaveNoReply: false,
      resolve: () => {},
      reject: () => {},
      onConnectionLost: () => {},
    });
    this.#socket.send(JSON.stringify(frame));
  }

  #onFrame(raw) {
    let frame;
    try {
      frame = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
    } catch {
      this.#emit('error', new SocketSharkError('The server sent a frame that is not JSON.', { code: 'invalid' }));
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    const isReply = 'status' in frame || frame.event === 'pong';
    if (isReply) this.#onReply(frame);
    else this.#onPush(frame);
  }

  #onReply(frame) {
    const event = frame.event === 'pong' ? 'ping' : frame.event;
    const signature = signatureOf(event, frame.subscription);
    // Requests ahead of the match that may have had no reply had none: the
    // server answers in order.
    let index = 0;
    while (index < this.#pending.length) {
      const request = this.#pending[index];
      if (request.signature === signature || event === undefined) break;
      if (!request.mayHaveNoReply) break;
      index++;
    }
    const request = this.#pending[index];
    if (!request || (event !== undefined && request.signature !== signature)) {
      this.#emit('error', new SocketSharkError('Unexpected reply from the server.', { code: 'invalid', reply: frame }));
      return;
    }
    const answeredSilently = this.#pending.splice(0, index + 1);
    answeredSilently.pop();
    for (const silent of answeredSilently) silent.resolve(null);
    if (frame.status === 'error') {
      request.reject(
        new SocketSharkError(frame.error ?? 'Error.', {
          event: frame.event ?? request.event,
          subscription: frame.subscription ?? null,
          data: frame.data,
          reply: frame,
        }),
      );
    } else {
      request.resolve(frame);
    }
  }

  #onPush(frame) {
    this.#emit('message', frame);
    const subscription = this.#subscriptions.get(frame.subscription);
    if (!subscription) return;
    if (frame.event === 'unsubscribe') {
      // The server dropped the subscription (e.g. authorization revoked):
      // forget it so that a reconnect does not bring it back.
      this.#subscriptions.delete(frame.subscription);
      subscription.waiter?.reject(
        new SocketSharkError(frame.error ?? 'Unsubscribed by the server.', {
          event: 'unsubscribe',
          subscription: frame.subscription,
          data: frame.data,
          reply: frame,
        }),
      );
    }
    this.#deliver(subscription, frame);
  }

  #deliver(subscription, frame) {
    if (!subscription.onMessage) return;
    try {
      subscription.onMessage(frame);
    } catch (error) {
      this.#emit('error', asError(error, 'A message handler threw.'));
    }
  }

  #emit(type, ...args) {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        if (type !== 'error') this.#emit('error', asError(error, `A '${type}' listener threw.`));
      }
    }
  }
}

function ignore() {}

function signatureOf(event, subscription) {
  return `${event}\u0000${subscription ?? ''}`;
}

async function resolveCredential(credential) {
  const value = typeof credential === 'function' ? await credential() : credential;
  if (typeof value !== 'string' || value === '') throw new TypeError('A ticket or token must be a non-empty string.');
  return value;
}

function asError(error, fallback) {
  return error instanceof Error ? error : new SocketSharkError(fallback, { code: 'invalid', data: error });
}

function now() {
  return globalThis.performance?.now() ?? Date.now();
}

export default SocketShark;
