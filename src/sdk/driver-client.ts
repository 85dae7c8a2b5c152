import { type BackoffOptions, DEFAULT_BACKOFF, fullJitter, validateBackoff } from './backoff.js';
import { endpointTargets, type EndpointOptions } from './endpoint-options.js';
import { type ConnectionState, ReconnectingSocket, type RegionInfo, type StateInfo, type TokenSource } from './reconnecting-socket.js';
import { BATCH_ERROR_CODES, isRetryable, SdkError } from './sdk-error.js';
import { TypedEmitter } from './typed-emitter.js';
import type { WebSocketConstructor } from './web-socket.js';
import { checkCa, resolveWebSocket } from './web-socket.js';
import type { Encoding } from './wire-codec.js';
import { ErrorCodes } from '../protocol/error-codes.js';
import type { DriverServerFrame, DriverStatus, ErrorFrame, OfferFrame, PingsRejectedFrame, WirePing } from '../protocol/wire-frames.js';

export interface DriverClientOptions extends EndpointOptions {
  /**
   * A driver token, or a function returning a fresh one. A function is called
   * before each connect whose token expires soon, and shortly before the open
   * socket's token expires (a minute ahead, less for short tokens): the fresh
   * token goes to the gateway in an `auth` frame, which extends the socket
   * without reconnecting. A plain string lives until its exp: the gateway
   * then closes the socket with 4401.
   */
  token: TokenSource;
  /** For the app's own bookkeeping; the gateway takes the driver id from the token. */
  driverId?: string;
  /** Default `msgpack`. */
  encoding?: Encoding;
  /** Most pings in one frame (default 50; keep it under the gateway's HEXFLEET_MAX_BATCH). */
  batchMaxPings?: number;
  /** Longest a ping waits for companions before its batch is sent (default 1000 ms). */
  batchMaxDelayMs?: number;
  /** Most un-acked pings kept; past it the oldest is dropped and counted in `dropped` (default 10 000). */
  bufferMaxPings?: number;
  /** Reconnect and resend delays (default 250 ms … 10 s, full jitter). */
  backoff?: BackoffOptions;
  /**
   * The last seq used before (persist `lastSeq` to keep it across app
   * restarts); the first ping gets `initialSeq + 1`. Default `Date.now()`: an
   * app that lost its counter still sends seqs above the ones it sent before,
   * as long as it averaged under one ping per millisecond.
   */
  initialSeq?: number;
  /** A batch without a reply for this long means a dead gateway: reconnect and resend (default 15 000 ms). */
  ackTimeoutMs?: number;
  /** A socket not open after this long is given up for the next URL (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** How long `accept`/`reject` wait for the gateway's answer (default 15 000 ms). */
  offerReplyTimeoutMs?: number;
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

/** One GPS fix; `ts` defaults to now. */
export interface PingInput {
  lat: number;
  lng: number;
  ts?: number;
  acc?: number;
  spd?: number;
  hdg?: number;
  status?: DriverStatus;
}

export type DriverClientEvents = {
  state: (state: ConnectionState, info: StateInfo) => void;
  /** Connected to a region other than before (with `endpoints`): the first choice, or the move after losing one. */
  region: (info: RegionInfo) => void;
  /** The gateway stored every outstanding ping up to `seq`. */
  ack: (seq: number) => void;
  /** A server error frame or a client failure; `err.retry` says whether the SDK retries it by itself. */
  error: (err: SdkError) => void;
  offer: (offer: OfferFrame) => void;
};

/** Pending: waiting for a frame; inflight: in the frame on the wire; retry: rejected with a retryable code, waiting out the backoff. */
type PingState = 'pending' | 'inflight' | 'retry';

interface Buffered {
  ping: WirePing;
  state: PingState;
  /** When it entered the buffer (for the batch delay). */
  at: number;
  /** Sent before: resending it does not wait for the batch delay. */
  sent: boolean;
}

interface OfferReplyWaiter {
  accept: boolean;
  resolve: (state: 'accepted' | 'rejected') => void;
  reject: (err: SdkError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A driver app's connection to hexfleet: streams pings in batches, survives
 * bad networks and gateway restarts, and answers offers.
 *
 * Guarantees, with the gateway's exactly-once-by-seq store:
 * - every ping gets its seq once, in `ping()`, and keeps it through every resend;
 * - a ping leaves the buffer only when acked, rejected as not retryable, or
 *   dropped as the oldest past `bufferMaxPings` (counted in `dropped`);
 * - one batch is on the wire at a time. With two in flight, a failed older
 *   batch resent after a newer one was stored would be taken for a duplicate
 *   and silently lost; stop-and-wait makes "stored" a prefix of the seqs;
 * - after any reconnect everything not acked is resent at once, with its seq —
 *   to another region too (with `endpoints`): a region that never acked a ping
 *   gets it with the seq it was given, and an acked ping is never resent.
 */
export class DriverClient extends TypedEmitter<DriverClientEvents> {
  /** Pings dropped from a full buffer, oldest first. */
  dropped = 0;
  /** Pings the gateway rejected as not retryable (invalid, too old, …): dropped, never resent. */
  rejected = 0;
  /** The highest seq the gateway acked; undefined before the first ack. */
  lastAckedSeq: number | undefined;
  /** The highest seq put on the wire so far. */
  lastSentSeq: number | undefined;
  /** The seq of the last ping produced (persist it as the next `initialSeq`). */
  lastSeq: number;
  /** As given in the options (the gateway takes the driver id from the token). */
  readonly driverId: string | undefined;

  private readonly socket: ReconnectingSocket;
  private readonly batchMaxPings: number;
  private readonly batchMaxDelayMs: number;
  private readonly bufferMaxPings: number;
  private readonly backoff: BackoffOptions;
  private readonly ackTimeoutMs: number;
  private readonly offerReplyTimeoutMs: number;
  /** Un-acked pings in seq order. */
  private buffer: Buffered[] = [];
  private inflight: Buffered[] | undefined;
  /** Batch size now; halved after a frame seemed too large, doubled back on acks. */
  private sendLimit: number;
  private retryAttempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private batchTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly offerReplies = new Map<string, OfferReplyWaiter>();

  constructor(options: DriverClientOptions) {
    super();
    const targets = endpointTargets(options, '/v1/driver');
    this.batchMaxPings = positiveInt(options.batchMaxPings ?? 50, 'batchMaxPings');
    this.batchMaxDelayMs = nonNegative(options.batchMaxDelayMs ?? 1000, 'batchMaxDelayMs');
    this.bufferMaxPings = positiveInt(options.bufferMaxPings ?? 10_000, 'bufferMaxPings');
    this.ackTimeoutMs = positiveInt(options.ackTimeoutMs ?? 15_000, 'ackTimeoutMs');
    this.offerReplyTimeoutMs = positiveInt(options.offerReplyTimeoutMs ?? 15_000, 'offerReplyTimeoutMs');
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    validateBackoff(this.backoff, 'backoff');
    const initialSeq = options.initialSeq ?? Date.now();
    if (!Number.isSafeInteger(initialSeq) || initialSeq < 0) throw new TypeError('initialSeq must be a non-negative safe integer');
    this.lastSeq = initialSeq;
    this.driverId = options.driverId;
    this.sendLimit = this.batchMaxPings;
    this.socket = new ReconnectingSocket({
      ...targets,
      token: options.token,
      encoding: options.encoding ?? 'msgpack',
      backoff: this.backoff,
      connectTimeoutMs: positiveInt(options.connectTimeoutMs ?? 10_000, 'connectTimeoutMs'),
      ca: checkCa(options.ca, options.WebSocket),
      WebSocket: resolveWebSocket(options.WebSocket),
    });
    this.socket.on('state', (s, info) => this.emit('state', s, info));
    this.socket.on('region', (info) => this.emit('region', info));
    this.socket.on('error', (e) => this.emit('error', e));
    this.socket.on('open', () => this.onOpen());
    this.socket.on('down', (code, abnormal) => this.onDown(abnormal));
    this.socket.on('frame', (f) => this.onFrame(f as DriverServerFrame));
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

  /** Pings not acked yet (waiting, on the wire, or waiting to be resent). */
  get bufferDepth(): number {
    return this.buffer.length;
  }

  /** Queues a ping and returns its seq. Sent when connected, in a batch. */
  ping(input: PingInput): number {
    if (this.state === 'closed') throw new SdkError('client_closed', 'the client is closed');
    const seq = ++this.lastSeq;
    const ping: WirePing = { seq, lat: input.lat, lng: input.lng, ts: input.ts ?? Date.now() };
    if (input.acc !== undefined) ping.acc = input.acc;
    if (input.spd !== undefined) ping.spd = input.spd;
    if (input.hdg !== undefined) ping.hdg = input.hdg;
    if (input.status !== undefined) ping.status = input.status;
    this.buffer.push({ ping, state: 'pending', at: Date.now(), sent: false });
    while (this.buffer.length > this.bufferMaxPings) {
      const old = this.buffer.shift()!;
      this.dropped++;
      if (this.inflight) this.inflight = this.inflight.filter((b) => b !== old);
    }
    this.pump();
    return seq;
  }

  /** Calls `handler` for every offer; returns the function that stops it. */
  onOffer(handler: (offer: OfferFrame) => void): () => void {
    return this.on('offer', handler);
  }

  /** Accepts an offer; resolves with the gateway's verdict, rejects with `offer_expired`, `not_offered`, … */
  accept(orderId: string): Promise<'accepted' | 'rejected'> {
    return this.replyToOffer(orderId, true);
  }

  /** Rejects an offer (the order goes to the next driver). */
  reject(orderId: string): Promise<'accepted' | 'rejected'> {
    return this.replyToOffer(orderId, false);
  }

  /** Stops: closes the socket and every timer. Pings still buffered stay unsent. */
  async close(): Promise<void> {
    this.clearTimers();
    for (const [orderId, w] of this.offerReplies) this.settleReply(orderId, w, new SdkError('client_closed', 'the client closed before the gateway answered'));
    await this.socket.close();
  }

  private replyToOffer(orderId: string, accept: boolean): Promise<'accepted' | 'rejected'> {
    if (this.state === 'closed') return Promise.reject(new SdkError('client_closed', 'the client is closed'));
    if (this.offerReplies.has(orderId)) return Promise.reject(new SdkError('reply_in_flight', `an answer to the offer of ${orderId} is already on its way`, { orderId }));
    return new Promise((resolve, reject) => {
      const w: OfferReplyWaiter = {
        accept,
        resolve,
        reject,
        timer: setTimeout(() => this.settleReply(orderId, w, new SdkError('reply_timeout', `no answer to the offer reply for ${orderId} within ${this.offerReplyTimeoutMs} ms`, { orderId, retry: true })), this.offerReplyTimeoutMs),
      };
      this.offerReplies.set(orderId, w);
      // Sent now when connected, else on the next open (the saga finds the driver by id, not by socket).
      this.socket.send({ type: 'offer_reply', orderId, accept });
    });
  }

  private settleReply(orderId: string, w: OfferReplyWaiter, outcome: SdkError | 'accepted' | 'rejected'): void {
    clearTimeout(w.timer);
    this.offerReplies.delete(orderId);
    if (outcome instanceof SdkError) w.reject(outcome);
    else w.resolve(outcome);
  }

  private onOpen(): void {
    for (const [orderId, w] of this.offerReplies) this.socket.send({ type: 'offer_reply', orderId, accept: w.accept });
    this.pump();
  }

  /** The socket ended: whatever was on the wire or waiting out a retry goes again on the next socket. */
  private onDown(abnormal: boolean): void {
    const batch = this.inflight;
    // 1006/1009 with a batch out may mean a frame over the gateway's size limit: try smaller ones.
    if (abnormal && batch && batch.length > 1) this.sendLimit = Math.max(1, Math.floor(batch.length / 2));
    this.inflight = undefined;
    this.clearTimers();
    for (const b of this.buffer) if (b.state !== 'pending') b.state = 'pending';
  }

  private onFrame(f: DriverServerFrame): void {
    if (typeof f !== 'object' || f === null) return;
    switch (f.type) {
      case 'ack':
        return this.onAck(f.seq);
      case 'error':
        return this.onError(f);
      case 'offer':
        this.socket.healthy();
        return this.emit('offer', f);
      case 'offer_result': {
        const w = this.offerReplies.get(f.orderId);
        if (w) this.settleReply(f.orderId, w, f.state);
        return;
      }
    }
  }

  private onAck(seq: number): void {
    this.socket.healthy();
    this.lastAckedSeq = Math.max(this.lastAckedSeq ?? seq, seq);
    const batch = this.inflight;
    if (batch) {
      this.inflight = undefined;
      clearTimeout(this.ackTimer);
      const done = new Set<Buffered>();
      for (const b of batch) {
        if (b.state !== 'inflight') continue; // rejected with a retryable code: it stays for the resend
        if (b.ping.seq <= seq) done.add(b);
        else b.state = 'pending';
      }
      if (done.size > 0) this.buffer = this.buffer.filter((b) => !done.has(b));
      this.retryAttempt = 0;
      this.sendLimit = Math.min(this.batchMaxPings, this.sendLimit * 2);
    }
    this.emit('ack', seq);
    this.afterBatch();
  }

  private onError(f: ErrorFrame): void {
    if (f.code === 'pings_rejected' && f.orderId === undefined) return this.onPingsRejected(f as PingsRejectedFrame);
    const err = new SdkError(f.code, f.message ?? f.code, { ...(f.seq === undefined ? {} : { seq: f.seq }), ...(f.orderId === undefined ? {} : { orderId: f.orderId }) });
    if (f.orderId !== undefined) {
      const w = this.offerReplies.get(f.orderId);
      if (w) this.settleReply(f.orderId, w, err);
      return this.emit('error', err);
    }
    this.socket.healthy();
    const batch = this.inflight;
    this.emit('error', err);
    if (!batch) return;
    if (BATCH_ERROR_CODES.has(f.code)) {
      // Nothing of the batch was acked: all of it goes again, after a backoff.
      this.endBatch(batch, 'retry');
    } else if (f.seq !== undefined) {
      const b = batch.find((x) => x.ping.seq === f.seq);
      if (!b || b.state !== 'inflight') return;
      if (isRetryable(f.code)) b.state = 'retry';
      else {
        this.rejected++;
        this.buffer = this.buffer.filter((x) => x !== b);
        b.state = 'pending';
        this.inflight = batch.filter((x) => x !== b);
      }
      // A batch whose every ping was rejected gets no ack (every() holds for an empty batch too).
      if (this.inflight && this.inflight.every((x) => x.state === 'retry')) this.endBatch(this.inflight, 'retry');
    } else if (f.code === 'batch_too_large') {
      this.sendLimit = Math.max(1, Math.floor(batch.length / 2));
      this.endBatch(batch, 'pending');
    } else {
      // The frame itself was refused (malformed, …): the same frame would be refused again.
      this.rejected += batch.length;
      const gone = new Set(batch);
      this.buffer = this.buffer.filter((b) => !gone.has(b));
      this.endBatch([], 'pending');
    }
  }

  /**
   * The one reply about a batch with several rejected pings: each listed one
   * is reported (an `error` event with its code and seq, as a single
   * rejection is) and dropped or kept for a resend by its code; the valid
   * pings from `retryFromSeq` on were refused for the rate and are resent.
   * Unlisted rejections are reported once, as `pings_rejected`; with nothing
   * accepted (no ack follows) the batch ends here and they are dropped, else
   * the ack settles the rest.
   */
  private onPingsRejected(f: PingsRejectedFrame): void {
    this.socket.healthy();
    const listed = new Map<number, string>();
    for (const r of Array.isArray(f.rejected) ? f.rejected : []) {
      listed.set(r.seq, r.code);
      const known = Object.hasOwn(ErrorCodes, r.code) ? ErrorCodes[r.code as keyof typeof ErrorCodes].message : r.code;
      this.emit('error', new SdkError(r.code, known, { seq: r.seq }));
    }
    let total = 0;
    for (const [code, n] of Object.entries(f.counts ?? {})) {
      total += n;
      if (!isRetryable(code)) this.rejected += n;
    }
    if (total > listed.size) this.emit('error', new SdkError(f.code, f.message ?? f.code));
    const batch = this.inflight;
    if (!batch) return;
    const gone = new Set<Buffered>();
    for (const b of batch) {
      if (b.state !== 'inflight') continue;
      const code = listed.get(b.ping.seq);
      if (code !== undefined ? isRetryable(code) : f.retryFromSeq !== undefined && b.ping.seq >= f.retryFromSeq) b.state = 'retry';
      else if (code !== undefined || f.accepted === 0) gone.add(b);
    }
    if (gone.size > 0) this.buffer = this.buffer.filter((b) => !gone.has(b));
    const kept = batch.filter((b) => !gone.has(b));
    if (f.accepted === 0) this.endBatch(kept, 'retry');
    else this.inflight = kept;
  }

  /** Ends the batch on the wire without an ack; its pings wait in `state`. */
  private endBatch(batch: Buffered[], state: PingState): void {
    for (const b of batch) b.state = state;
    this.inflight = undefined;
    clearTimeout(this.ackTimer);
    this.afterBatch();
  }

  /** Schedules the resend of retry pings (with backoff), then sends what is due. */
  private afterBatch(): void {
    if (this.retryTimer === undefined && this.buffer.some((b) => b.state === 'retry')) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        for (const b of this.buffer) if (b.state === 'retry') b.state = 'pending';
        this.pump();
      }, fullJitter(this.retryAttempt++, this.backoff));
    }
    this.pump();
  }

  /** Sends the next batch when one is due: a full batch, a resend, or a ping that waited `batchMaxDelayMs`. */
  private pump(): void {
    if (this.inflight || !this.socket.isOpen) return;
    const ready: Buffered[] = [];
    for (const b of this.buffer) {
      // Never past an older ping that waits for its retry: once a newer seq is
      // stored, the older one would be taken for a duplicate and lost.
      if (b.state !== 'pending') break;
      ready.push(b);
      if (ready.length === this.sendLimit) break;
    }
    const first = ready[0];
    if (!first) return;
    const now = Date.now();
    const due = ready.length >= this.sendLimit || first.sent || now - first.at >= this.batchMaxDelayMs;
    if (!due) {
      if (this.batchTimer === undefined) {
        this.batchTimer = setTimeout(() => {
          this.batchTimer = undefined;
          this.pump();
        }, first.at + this.batchMaxDelayMs - now);
      }
      return;
    }
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    for (const b of ready) {
      b.state = 'inflight';
      b.sent = true;
    }
    this.inflight = ready;
    this.socket.send({ type: 'pings', pings: ready.map((b) => b.ping) });
    const last = ready[ready.length - 1]!.ping.seq;
    this.lastSentSeq = Math.max(this.lastSentSeq ?? last, last);
    this.ackTimer = setTimeout(() => this.socket.abandon(1006, 'ack timeout'), this.ackTimeoutMs);
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.batchTimer);
    clearTimeout(this.ackTimer);
    this.retryTimer = this.batchTimer = this.ackTimer = undefined;
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function nonNegative(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw new TypeError(`${name} must be a finite number >= 0, got ${String(v)}`);
  return v;
}
