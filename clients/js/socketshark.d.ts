// TypeScript definitions for socketshark.js.

/** A ticket or token, or a function that fetches a fresh one for each connection. */
export type Credential = string | (() => string | Promise<string>);

export interface ReconnectOptions {
  /** Ceiling of the first retry's delay, ms (default 1000). */
  initialDelay?: number;
  /** Largest delay, ms (default 30000). */
  maxDelay?: number;
  /** Growth of the ceiling per failed attempt (default 2). */
  factor?: number;
  /** A connection ready for this long (ms) resets the backoff to the first delay (default 5000). */
  resetAfter?: number;
}

/** Minimal WebSocket constructor: the browser's, Node 22's global, or the `ws` package. */
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}

export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface SocketSharkOptions {
  /** Ticket auth: sent as {"event":"auth","method":"ticket","ticket":T} after each connect. */
  ticket?: Credential | null;
  /** JWT auth: sent at the handshake as Sec-WebSocket-Protocol "bearer, <token>". */
  token?: Credential | null;
  /** Backoff settings, or false to never reconnect. */
  reconnect?: ReconnectOptions | false;
  /** Application ping period, ms (default 20000; 0 disables). */
  pingInterval?: number;
  /** Reconnect when a ping gets no pong within this many ms (default 0: never). */
  pingTimeout?: number;
  /** WebSocket implementation (default: globalThis.WebSocket). */
  WebSocket?: WebSocketConstructor;
  /** Source of randomness for the backoff jitter, in [0, 1) (default Math.random). */
  random?: () => number;
}

export type ConnectionState = 'connecting' | 'open' | 'authenticated' | 'reconnecting' | 'closed';

export interface StateDetail {
  previous: ConnectionState;
  /** Close code of the connection that ended (reconnecting, closed). */
  code?: number | null;
  reason?: string;
  /** Delay before the next attempt, ms (reconnecting). */
  delay?: number;
  /** Number of the attempt, from 0 (connecting, reconnecting). */
  attempt?: number;
  /** Subprotocol the server selected ("bearer" with a token) (open). */
  protocol?: string;
}

/** Any frame from the server. */
export interface Frame {
  event?: string;
  subscription?: string;
  status?: 'ok' | 'error';
  error?: string;
  data?: unknown;
  [field: string]: unknown;
}

/** A frame delivered to a subscription's handler. */
export interface SubscriptionFrame extends Frame {
  /** "message" (published), "unsubscribe" (the server dropped it), "subscribe" (re-subscribe reply). */
  event: 'message' | 'unsubscribe' | 'subscribe';
  subscription: string;
}

export type MessageHandler = (frame: SubscriptionFrame) => void;

export interface SendOptions {
  /**
   * undefined: unknown whether the service answers (a ping is sent behind the message to find out);
   * true: it always answers with data; false: don't wait for an answer (resolve with null once sent).
   */
  expectReply?: boolean;
}

export interface EventMap {
  state: [state: ConnectionState, detail: StateDetail];
  /** Every frame the server pushes on its own (published messages, server-side unsubscribes). */
  message: [frame: Frame];
  error: [error: Error];
  /** Round-trip time of an application ping, ms. */
  latency: [milliseconds: number];
  /** The server refused the credentials (close code 4401 or a refused ticket); the client stops. */
  unauthorized: [detail: { code?: number; reason?: string; error?: string; reply?: Frame | null }];
}

export declare const CloseCode: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  POLICY: 1008;
  TOO_BIG: 1009;
  SERVICE_RESTART: 1012;
  PING_TIMEOUT: 4408;
  UNAUTHORIZED: 4401;
  TOO_MANY: 4429;
}>;

/** random(0, min(maxDelay, initialDelay * factor ** attempt)); attempt counts from 0. */
export declare function backoffDelay(
  attempt: number,
  settings?: { initialDelay: number; maxDelay: number; factor: number },
  random?: () => number,
): number;

export declare class SocketSharkError extends Error {
  /** 'server': an error reply; 'closed': connection lost or closed; 'invalid': refused locally. */
  readonly code: 'server' | 'closed' | 'invalid';
  readonly event: string | null;
  readonly subscription: string | null;
  /** The `data` of the server's error reply, if any. */
  readonly data: unknown;
  /** The server's error reply, if any. */
  readonly reply: Frame | null;
}

export declare class SocketShark {
  constructor(url: string, options?: SocketSharkOptions);
  readonly state: ConnectionState;
  /** Last application ping round trip, ms, or null. */
  readonly latency: number | null;
  readonly subscriptions: string[];
  on<K extends keyof EventMap>(type: K, listener: (...args: EventMap[K]) => void): () => void;
  off<K extends keyof EventMap>(type: K, listener: (...args: EventMap[K]) => void): void;
  /** Resolves when ready for requests (authenticated, or open without credentials). */
  connect(): Promise<void>;
  /** Closes for good: no reconnect; pending requests reject. */
  close(code?: number, reason?: string): void;
  subscribe(name: string, extra?: Record<string, unknown>, onMessage?: MessageHandler): Promise<Frame>;
  subscribe(name: string, onMessage: MessageHandler): Promise<Frame>;
  /** Resolves with the ok reply, or null when nothing was live on the server. */
  unsubscribe(name: string): Promise<Frame | null>;
  /** Resolves with the service's reply, or null when it answered without data. */
  send(name: string, data: unknown, options?: SendOptions): Promise<Frame | null>;
  /** Round trip of one application ping, ms. */
  ping(): Promise<number>;
}

export default SocketShark;
