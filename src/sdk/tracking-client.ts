import { type BackoffOptions, DEFAULT_BACKOFF, validateBackoff } from './backoff.js';
import { endpointTargets, type EndpointOptions } from './endpoint-options.js';
import { type ConnectionState, ReconnectingSocket, type RegionInfo, type StateInfo, type TokenSource } from './reconnecting-socket.js';
import { SdkError } from './sdk-error.js';
import { TypedEmitter } from './typed-emitter.js';
import { checkCa, resolveWebSocket, type WebSocketConstructor } from './web-socket.js';
import type { Encoding } from './wire-codec.js';
import type { AssignmentFrame, OrderPositionFrame, StatusFrame, TrackingServerFrame } from '../protocol/wire-frames.js';

export interface TrackingClientOptions extends EndpointOptions {
  /** A customer or tracker token, or a function returning a fresh one (called again on 4401). */
  token: TokenSource;
  /** Default `json`. */
  encoding?: Encoding;
  /** Reconnect delays (default 250 ms … 10 s, full jitter). */
  backoff?: BackoffOptions;
  /** A socket not open after this long is given up for the next URL (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** The WebSocket class; default `globalThis.WebSocket`, and the `ws` package's class in the Node.js entry of `@hexfleet/sdk`. */
  WebSocket?: WebSocketConstructor;
  /**
   * CA certificate(s), PEM, trusted for wss:// instead of the platform's (a
   * gateway whose certificate a private CA signed). Needs a `WebSocket` that
   * takes the `ws` package's options (the Node.js entry's default); browsers
   * use their own CA store.
   */
  ca?: string | readonly string[];
}

export type TrackingClientEvents = {
  state: (state: ConnectionState, info: StateInfo) => void;
  /** Connected to a region other than before (with `endpoints`): the first choice, or the move after losing one. */
  region: (info: RegionInfo) => void;
  /**
   * A courier position, never older than one already emitted for that order.
   * `region` and `replicationAgeMs` are set when another region accepted it
   * (the socket's region shows it from replicated data): show them, e.g.
   * "via eu, 80 ms"; a position of the socket's own region has neither.
   */
  position: (p: OrderPositionFrame) => void;
  /** The tracking state of an order, as the server sent it (with the server's `ageMs`). */
  status: (s: StatusFrame) => void;
  assignment: (a: AssignmentFrame) => void;
  /** A server error frame or a client failure. A non-retryable error naming an order ends its subscription. */
  error: (err: SdkError) => void;
};

/**
 * A customer app's (or an operations tool's) view of orders in flight:
 * subscribes, and after any reconnect subscribes again to every order by
 * itself; the server then sends each order's current status and last-known
 * position with its age first.
 *
 * Nothing stale is shown as fresh: positions go out only in `ts` order per
 * order (a position older than the last one emitted for that order, such as a
 * frame from a gateway that lags behind, is dropped), and `status` frames are
 * passed on as the server computed them, `ageMs` included.
 */
export class TrackingClient extends TypedEmitter<TrackingClientEvents> {
  /** Positions dropped because a newer one of the same order was already emitted. */
  staleDropped = 0;
  private readonly socket: ReconnectingSocket;
  private readonly orders = new Set<string>();
  /** ts of the last position emitted, per subscribed order. */
  private readonly lastTs = new Map<string, number>();

  constructor(options: TrackingClientOptions) {
    super();
    const targets = endpointTargets(options, '/v1/track');
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    validateBackoff(backoff, 'backoff');
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1) throw new TypeError('connectTimeoutMs must be a positive integer');
    this.socket = new ReconnectingSocket({
      ...targets,
      token: options.token,
      encoding: options.encoding ?? 'json',
      backoff,
      connectTimeoutMs,
      ca: checkCa(options.ca, options.WebSocket),
      WebSocket: resolveWebSocket(options.WebSocket),
    });
    this.socket.on('state', (s, info) => this.emit('state', s, info));
    this.socket.on('region', (info) => this.emit('region', info));
    this.socket.on('error', (e) => this.emit('error', e));
    this.socket.on('open', () => {
      for (const orderId of this.orders) this.socket.send({ type: 'subscribe', orderId });
    });
    this.socket.on('frame', (f) => this.onFrame(f as TrackingServerFrame));
    this.socket.start();
  }

  get state(): ConnectionState {
    return this.socket.state;
  }

  /** The region of the current (or last) connection; undefined with `urls`, or before the first choice. */
  get region(): string | undefined {
    return this.socket.region;
  }

  /** The gateway URL of the current (or last) connection. */
  get url(): string {
    return this.socket.url;
  }

  /** The orders subscribed to (kept across reconnects). */
  get subscriptions(): string[] {
    return [...this.orders];
  }

  /** Starts watching an order (sent now when connected, else on connect). Idempotent. */
  subscribe(orderId: string): void {
    if (typeof orderId !== 'string' || orderId === '') throw new TypeError('orderId must be a non-empty string');
    if (this.state === 'closed') throw new SdkError('client_closed', 'the client is closed');
    if (this.orders.has(orderId)) return;
    this.orders.add(orderId);
    this.socket.send({ type: 'subscribe', orderId });
  }

  /** Stops watching an order; frames of it that are still on their way are not emitted. */
  unsubscribe(orderId: string): void {
    if (!this.orders.delete(orderId)) return;
    this.lastTs.delete(orderId);
    this.socket.send({ type: 'unsubscribe', orderId });
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  private onFrame(f: TrackingServerFrame): void {
    if (typeof f !== 'object' || f === null) return;
    this.socket.healthy();
    switch (f.type) {
      case 'position': {
        // This client watches orders only: an area position (admin) has no order.
        if (!('orderId' in f) || !this.orders.has(f.orderId)) return;
        const last = this.lastTs.get(f.orderId);
        if (last !== undefined && f.ts < last) {
          this.staleDropped++;
          return;
        }
        this.lastTs.set(f.orderId, f.ts);
        return this.emit('position', f);
      }
      case 'status':
        if (this.orders.has(f.orderId)) this.emit('status', f);
        return;
      case 'assignment':
        if (this.orders.has(f.orderId)) this.emit('assignment', f);
        return;
      case 'error': {
        const err = new SdkError(f.code, f.message ?? f.code, f.orderId === undefined ? {} : { orderId: f.orderId });
        // Watching an order the token does not cover fails the same way after every reconnect.
        if (f.orderId !== undefined && !err.retry) {
          this.orders.delete(f.orderId);
          this.lastTs.delete(f.orderId);
        }
        return this.emit('error', err);
      }
    }
  }
}
