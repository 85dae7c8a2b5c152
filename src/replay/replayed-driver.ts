import WebSocket, { type RawData } from 'ws';
import { framePackr } from '../protocol/frame-codec.js';
import type { WirePing } from '../protocol/wire-frames.js';
import type { TrafficStats } from './traffic-stats.js';

interface InFlight {
  lastSeq: number;
  sentAt: number;
}

interface Reply {
  type?: unknown;
  seq?: unknown;
  code?: unknown;
}

/**
 * One recorded driver, replayed as a driver app: its own WebSocket on
 * `/v1/driver` with a driver token for its id, one msgpack `pings` frame per
 * recorded batch, and the gateway's replies matched to the batches:
 *
 * - `ack` with seq S answers every batch in flight whose highest seq ≤ S
 *   (the protocol: everything not rejected up to S is stored);
 * - an `error` with the highest seq of a batch in flight fails that batch;
 *   one with another seq refuses a single ping (counted apart).
 *
 * Frames due before the socket opened wait for it; a socket that failed to
 * open or closed counts its remaining frames as not sent. No reconnect: a
 * replay reports what the gateway did with the traffic, it does not hide it.
 */
export class ReplayedDriver {
  private ws: WebSocket | undefined;
  private waiting: WirePing[][] = [];
  private inflight: InFlight[] = [];
  /** The socket opened once. */
  private opened = false;
  /** The socket failed or closed: nothing more is sent. */
  private gone = false;
  /** `close()` was called: a close from now on is ours. */
  private closing = false;
  private idle: (() => void)[] = [];

  constructor(
    readonly driverId: string,
    private readonly stats: TrafficStats,
  ) {}

  /** Starts opening the socket (the token is minted by the caller). */
  connect(url: string, token: Promise<string>): void {
    token.then(
      (jwt) => {
        if (this.closing) return this.fail();
        const target = new URL(url);
        target.searchParams.set('token', jwt);
        const ws = new WebSocket(target);
        this.ws = ws;
        ws.on('open', () => {
          this.opened = true;
          this.stats.connects++;
          for (const pings of this.waiting.splice(0)) this.write(ws, pings);
        });
        ws.on('message', (data: RawData, isBinary: boolean) => this.onReply(data, isBinary));
        ws.on('error', () => {}); // The close that follows says what happened.
        ws.on('close', () => {
          if (this.opened && !this.closing) this.stats.disconnects++;
          this.fail();
        });
        ws.on('unexpected-response', (req) => {
          req.destroy();
          this.fail();
        });
      },
      () => this.fail(),
    );
  }

  /** Sends one recorded batch (pings in their recorded order), now or as soon as the socket is open. */
  send(pings: WirePing[]): void {
    if (this.gone) {
      this.stats.notSent++;
      return;
    }
    if (this.ws?.readyState === WebSocket.OPEN) this.write(this.ws, pings);
    else this.waiting.push(pings);
  }

  /** Batches sent and not yet answered. */
  get inFlight(): number {
    return this.inflight.length;
  }

  /** Resolves once every batch given has been sent and answered, or the socket is gone. */
  settled(): Promise<void> {
    if (this.busy === 0 || this.gone) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Closes the socket (normal closure) and waits for it; batches still waiting for it count as not sent. */
  async close(): Promise<void> {
    this.closing = true;
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close(1000);
      await closed;
    }
    this.fail();
  }

  private get busy(): number {
    return this.inflight.length + this.waiting.length;
  }

  private write(ws: WebSocket, pings: WirePing[]): void {
    let lastSeq = -Infinity;
    for (const p of pings) if (p.seq > lastSeq) lastSeq = p.seq;
    this.inflight.push({ lastSeq, sentAt: performance.now() });
    this.stats.batchesSent++;
    this.stats.pingsSent += pings.length;
    ws.send(framePackr.pack({ type: 'pings', pings }), { binary: true });
  }

  private onReply(data: RawData, isBinary: boolean): void {
    let reply: Reply;
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(new Uint8Array(data));
      reply = (isBinary ? framePackr.unpack(buf) : JSON.parse(buf.toString('utf8'))) as Reply;
    } catch {
      return; // Not a reply to a batch; nothing to match it with.
    }
    if (typeof reply.seq !== 'number') return;
    const seq = reply.seq;
    const now = performance.now();
    if (reply.type === 'ack') {
      let answered = 0;
      while (answered < this.inflight.length && this.inflight[answered]!.lastSeq <= seq) {
        this.stats.batchesAcked++;
        this.stats.ackLatencyMs.record(now - this.inflight[answered]!.sentAt);
        answered++;
      }
      this.inflight.splice(0, answered);
    } else if (reply.type === 'error') {
      const code = typeof reply.code === 'string' ? reply.code : 'unknown';
      const i = this.inflight.findIndex((b) => b.lastSeq === seq);
      if (i >= 0) {
        this.stats.batchError(code);
        this.inflight.splice(i, 1);
      } else {
        this.stats.pingRejected(code);
      }
    }
    if (this.busy === 0) for (const wake of this.idle.splice(0)) wake();
  }

  /** The socket is gone: nothing waiting will be sent, nothing in flight answered. */
  private fail(): void {
    if (this.gone) return;
    this.gone = true;
    if (!this.opened && !this.closing) this.stats.connectFailures++;
    this.stats.notSent += this.waiting.length;
    this.waiting = [];
    for (const wake of this.idle.splice(0)) wake();
  }
}
