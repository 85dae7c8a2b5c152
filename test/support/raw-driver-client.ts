import { pack, unpack } from 'msgpackr';
import WebSocket, { type RawData } from 'ws';
import { channelAt, checkFrame } from './frame-check.js';

/**
 * The tests' one raw WebSocket client (the `ws` package) of the gateway's
 * socket endpoints: driver apps on `/v1/driver`, and tracking clients on
 * `/v1/track` (test/tracking/track-client.ts). It sends exactly the frames a
 * test gives it — in either encoding, malformed ones included (`sendRaw`) —
 * keeps every reply in arrival order and lets a test wait for the first reply
 * that matches, event-driven (no polling, no sleeps). Nothing is retried,
 * batched or resent behind the test's back.
 *
 * Not to be confused with the SDK's `DriverClient` (src/sdk), the driver app's
 * library: it reconnects, batches and resends, and is what behaviour-level
 * tests drive (test/sdk). Use this one where the test is about the wire: the
 * exact frame, its encoding, its reply.
 *
 * Every frame it receives on /v1/driver or /v1/track must be one the
 * AsyncAPI document describes (frame-check.ts): one that is not fails the
 * waiting test and is thrown, so no suite passes with an undescribed frame.
 */

/** How a driver app encodes its frames: JSON text frames or msgpack binary frames. */
export type Encoding = 'json' | 'msgpack';

/** A reply from the gateway, decoded; `binary` tells which kind of frame carried it. */
export interface Reply {
  type: string;
  seq?: number;
  code?: string;
  message?: string;
  binary: boolean;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

/** The gateway refused the upgrade: no socket was opened. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
    this.name = 'UpgradeRefused';
  }
}

export interface ConnectOptions {
  /** Sent as `?token=`. */
  queryToken?: string;
  /** Sent as `Authorization: Bearer …`. */
  bearerToken?: string;
  /** The encoding of `send` and `sendPings` (default json). */
  encoding?: Encoding;
}

interface Waiter {
  match: (r: Reply) => boolean;
  /** Only replies at this index of `replies` or later count. */
  from: number;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

/** How long a reply may take on a busy CI machine before a test fails with a message. */
const REPLY_TIMEOUT_MS = 20_000;

/** A raw socket to a gateway endpoint; see the top of this file for what it is (and is not) for. */
export class RawDriverClient {
  readonly replies: Reply[] = [];
  /** Socket errors seen (a reset after an abrupt close is expected in some tests). */
  readonly errors: Error[] = [];
  /** Set when the socket closed; replies received after it cannot exist. */
  closeEvent: CloseEvent | undefined;
  /** Resolves with the close code and reason, however the socket ends. */
  readonly closed: Promise<CloseEvent>;
  private waiters: Waiter[] = [];
  private readonly listeners = new Set<(r: Reply) => void>();
  /** The AsyncAPI channel of the socket's path (undefined elsewhere: nothing is checked). */
  private readonly channel: string | undefined;

  private constructor(
    readonly ws: WebSocket,
    readonly encoding: Encoding,
  ) {
    this.channel = channelAt(new URL(ws.url).pathname);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.errors.push(err));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`socket closed (${code} ${reason.toString()}) while waiting for ${w.what}; replies: ${this.repliesText()}${this.errorText()}`));
        }
        resolve(this.closeEvent);
      });
    });
  }

  /** Opens a socket at `url`; rejects with `UpgradeRefused` when the gateway answers the upgrade with an HTTP error. */
  static open(url: string, options: ConnectOptions = {}): Promise<RawDriverClient> {
    const target = new URL(url);
    if (options.queryToken !== undefined) target.searchParams.set('token', options.queryToken);
    const headers: Record<string, string> = {};
    if (options.bearerToken !== undefined) headers.authorization = `Bearer ${options.bearerToken}`;
    const ws = new WebSocket(target, { headers });
    const client = new RawDriverClient(ws, options.encoding ?? 'json');
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          req.destroy();
          reject(new UpgradeRefused(res.statusCode ?? 0, body));
        });
      });
      ws.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame in this client's encoding (or the one given). */
  send(frame: unknown, encoding: Encoding = this.encoding): void {
    if (encoding === 'msgpack') this.ws.send(pack(frame), { binary: true });
    else this.ws.send(JSON.stringify(frame), { binary: false });
  }

  /** Sends raw bytes or text, exactly as given (for malformed frames). */
  sendRaw(data: string | Buffer, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** Sends a `pings` frame. */
  sendPings(pings: readonly unknown[], encoding: Encoding = this.encoding): void {
    this.send({ type: 'pings', pings }, encoding);
  }

  /**
   * Sends a `pings` frame and resolves with its batch-level reply: the ack or
   * error received from now on that carries the batch's highest seq (so a
   * batch resent with the same seqs gets its own reply, not the earlier one).
   */
  sendBatch<P extends { seq: number }>(pings: readonly P[], encoding: Encoding = this.encoding): Promise<Reply> {
    const last = Math.max(...pings.map((p) => p.seq));
    const reply = this.nextReply((r) => (r.type === 'ack' || r.type === 'error') && r.seq === last, `the reply to the batch ending at seq ${last}`);
    this.sendPings(pings, encoding);
    return reply;
  }

  /** Calls `fn` with every reply from now on; returns the function that stops it. */
  onReply(fn: (r: Reply) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The first reply at index `from` of `replies` or later (already received or still to come) that matches. */
  waitForReply(match: (r: Reply) => boolean, what = 'a matching reply', from = 0): Promise<Reply> {
    const seen = this.replies.find((r, i) => i >= from && match(r));
    if (seen) return Promise.resolve(seen);
    if (this.closeEvent) {
      return Promise.reject(new Error(`socket already closed (${this.closeEvent.code}) before ${what}; replies: ${this.repliesText()}${this.errorText()}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        from,
        resolve,
        reject,
        what,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${REPLY_TIMEOUT_MS} ms waiting for ${what}; replies: ${this.repliesText()}`));
        }, REPLY_TIMEOUT_MS),
      };
      this.waiters.push(waiter);
    });
  }

  /** The first reply from now on that matches (none of those already received). */
  nextReply(match: (r: Reply) => boolean, what = 'a matching reply'): Promise<Reply> {
    return this.waitForReply(match, what, this.replies.length);
  }

  /** Waits for the ack of `seq`. */
  waitForAck(seq: number): Promise<Reply> {
    return this.waitForReply((r) => r.type === 'ack' && r.seq === seq, `ack ${seq}`);
  }

  /** Waits for an error with this code (and seq, when given). */
  waitForError(code: string, seq?: number): Promise<Reply> {
    return this.waitForReply(
      (r) => r.type === 'error' && r.code === code && (seq === undefined || r.seq === seq),
      `error ${code}${seq === undefined ? '' : ` for seq ${seq}`}`,
    );
  }

  /** Closes the socket with a close handshake (`code`, default 1000: a normal close) and waits for it to be gone. */
  async close(code = 1000): Promise<void> {
    if (!this.closeEvent) this.ws.close(code);
    await this.closed;
  }

  /** Closes the socket at once (no close handshake) and waits for it to be gone. */
  async terminate(): Promise<void> {
    if (!this.closeEvent) this.ws.terminate();
    await this.closed;
  }

  /** The replies for a failure message; the last 20 at most (a streaming test has thousands). */
  private repliesText(): string {
    const shown = this.replies.slice(-20);
    return `${this.replies.length > shown.length ? `(last ${shown.length} of ${this.replies.length}) ` : ''}${JSON.stringify(shown)}`;
  }

  private errorText(): string {
    return this.errors.length === 0 ? '' : `; socket errors: ${this.errors.map((e) => e.message).join(', ')}`;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(new Uint8Array(data));
    const decoded = (isBinary ? unpack(buf) : JSON.parse(buf.toString('utf8'))) as Omit<Reply, 'binary'>;
    if (this.channel !== undefined) {
      try {
        checkFrame(this.channel, 'gateway', decoded);
      } catch (err) {
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(err as Error);
        }
        // Thrown outside the socket's handler too: a test that waits for nothing still fails.
        setImmediate(() => {
          throw err;
        });
      }
    }
    const reply: Reply = { ...decoded, binary: isBinary };
    const index = this.replies.push(reply) - 1;
    for (const w of this.waiters.slice()) {
      if (index >= w.from && w.match(reply)) {
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(reply);
      }
    }
    for (const fn of [...this.listeners]) fn(reply);
  }
}
