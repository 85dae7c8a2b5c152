import { Agent, request } from 'node:http';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';

/**
 * One abusive client of a gateway, for the flood test and bench:flood. It
 * runs one kind of abuse as fast as the gateway lets it, and when the
 * gateway closes its socket it reconnects at once with the same token (a
 * persistent attacker holding a valid driver or service token), counting
 * what it sent, what came back and how it was closed.
 */
export const ABUSE_KINDS = ['frame_flood', 'invalid_batch', 'unknown_offer_replies', 'oversized_ids', 'malformed', 'http_nearby_20km'] as const;
export type AbuseKind = (typeof ABUSE_KINDS)[number];

/** What the abuse described in words, for reports. */
export const ABUSE_DESCRIPTIONS: Record<AbuseKind, string> = {
  frame_flood: 'valid 1-ping frames as fast as the socket takes them',
  invalid_batch: 'frames of 1 valid and 499 invalid pings',
  unknown_offer_replies: 'offer_reply frames for orders never offered (a store lookup each)',
  oversized_ids: 'offer_reply frames with a 60,000-character orderId',
  malformed: 'text frames that are not JSON',
  http_nearby_20km: 'GET /v1/drivers/nearby at 20 km radius, 8 requests in flight, one service token',
};

export interface AbuseStats {
  kind: AbuseKind;
  /** Frames or requests sent. */
  sent: number;
  /** Frames or responses received. */
  received: number;
  /** Error replies by code (HTTP: by status and code). */
  codes: Record<string, number>;
  /** Socket closes by close code. */
  closes: Record<string, number>;
  connects: number;
}

export interface AbuserTarget {
  /** ws://host:port/v1/driver */
  driverUrl: string;
  /** http://host:port */
  httpUrl: string;
  /** A driver token (WebSocket kinds) or a service token (HTTP kinds). */
  token: string;
}

/** Keeps at most this many bytes queued on the socket: as fast as the gateway reads, no faster. */
const HIGH_WATER = 256 * 1024;
const packr = new Packr({ useRecords: false });

export class Abuser {
  readonly stats: AbuseStats;
  private running = false;
  private ws: WebSocket | undefined;
  private done: Promise<void> | undefined;
  private seq = 0;

  /**
   * `framesPerTick` caps what one turn of the event loop sends (on loopback
   * the kernel takes frames as fast as they are made, so the queue alone
   * would never yield): a test that runs the abuser in its own process
   * passes a small one to keep its other clients responsive.
   */
  constructor(readonly kind: AbuseKind, private readonly target: AbuserTarget, private readonly framesPerTick = 500) {
    this.stats = { kind, sent: 0, received: 0, codes: {}, closes: {}, connects: 0 };
  }

  start(): void {
    this.running = true;
    this.done = this.kind === 'http_nearby_20km' ? this.runHttp() : this.runWs();
  }

  /** Stops and waits until nothing is in flight. */
  async stop(): Promise<AbuseStats> {
    this.running = false;
    this.ws?.terminate();
    await this.done;
    return this.stats;
  }

  private frame(): string | Buffer {
    switch (this.kind) {
      case 'frame_flood':
        return JSON.stringify({ type: 'pings', pings: [{ seq: ++this.seq, lat: 52.5, lng: 13.4, ts: Date.now() }] });
      case 'invalid_batch':
        return INVALID_BATCH();
      case 'unknown_offer_replies':
        return JSON.stringify({ type: 'offer_reply', orderId: `no-such-order-${++this.seq}`, accept: true });
      case 'oversized_ids':
        return OVERSIZED_ID;
      case 'malformed':
        return '{"type":"pings","pings":[';
      default:
        throw new Error(`${this.kind} is not a WebSocket abuse`);
    }
  }

  private async runWs(): Promise<void> {
    while (this.running) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`${this.target.driverUrl}?token=${encodeURIComponent(this.target.token)}`);
        this.ws = ws;
        let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
        const pump = (): void => {
          timer = undefined;
          if (!this.running || ws.readyState !== WebSocket.OPEN) return;
          for (let n = 0; n < this.framesPerTick && ws.bufferedAmount < HIGH_WATER; n++) {
            ws.send(this.frame());
            this.stats.sent++;
          }
          // Full queue: wait for the gateway to read; otherwise only let the loop turn (IPC, replies, timers).
          timer = ws.bufferedAmount >= HIGH_WATER ? setTimeout(pump, 1) : setImmediate(pump);
        };
        ws.on('open', () => {
          this.stats.connects++;
          pump();
        });
        ws.on('message', (data, isBinary) => {
          this.stats.received++;
          const buf = data as Buffer;
          try {
            const m = (isBinary ? packr.unpack(buf) : JSON.parse(buf.toString('utf8'))) as { type?: string; code?: string };
            if (m.type === 'error' && m.code) this.stats.codes[m.code] = (this.stats.codes[m.code] ?? 0) + 1;
          } catch {
            // Counted as received; the gateway only sends valid frames.
          }
        });
        ws.on('error', () => undefined);
        ws.on('close', (code) => {
          if (timer) {
            clearTimeout(timer as NodeJS.Timeout);
            clearImmediate(timer as NodeJS.Immediate);
          }
          this.stats.closes[String(code)] = (this.stats.closes[String(code)] ?? 0) + 1;
          resolve();
        });
      });
    }
  }

  private async runHttp(): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const url = new URL('/v1/drivers/nearby?lat=52.52&lng=13.405&radius=20000&limit=20', this.target.httpUrl);
    const one = (): Promise<void> => new Promise((resolve) => {
      const req = request(url, { agent, headers: { authorization: `Bearer ${this.target.token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          this.stats.received++;
          let code = '';
          if ((res.statusCode ?? 0) >= 400) {
            try {
              code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code ?? '';
            } catch {
              code = 'unparsed';
            }
            const key = `${res.statusCode} ${code}`;
            this.stats.codes[key] = (this.stats.codes[key] ?? 0) + 1;
          }
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.end();
      this.stats.sent++;
    });
    this.stats.connects = 1;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (this.running) await one();
    }));
    agent.destroy();
  }
}

let invalidBatch: string | undefined;
/** A frame of one valid ping and 499 invalid ones (lat out of range), built once: the abuser spends its CPU on sending. */
function INVALID_BATCH(): string {
  if (invalidBatch === undefined) {
    const ts = Date.now();
    const bad = Array.from({ length: 499 }, (_, i) => ({ seq: i + 1, lat: 91, lng: 13.4, ts }));
    invalidBatch = JSON.stringify({ type: 'pings', pings: [{ seq: 1000, lat: 52.5, lng: 13.4, ts }, ...bad] });
  }
  return invalidBatch;
}

const OVERSIZED_ID = JSON.stringify({ type: 'offer_reply', orderId: 'x'.repeat(60_000), accept: true });
