import WebSocket from 'ws';
import { TokenService } from '../../src/auth/tokens.js';
import type { Backend } from '../../src/backend/backend.js';
import type { OrderDoc } from '../../src/orders/order.js';
import { sleep } from '../lib/clock.js';

/**
 * Drivers and an order service for the failover scenario, in the bench
 * process, against a gateway in its own process: each driver app keeps one
 * batch in flight and resends it (same seqs) after an error, as the SDK
 * does; each matcher matches an order over HTTP and cancels it once
 * matched, so drivers come free again. Every ack is kept with its send
 * time, every error counted by code, so a scenario can tell when writes came
 * back and check every ack against the store afterwards.
 */

/** After an error, a driver app or the order service waits this long before resending (client backoff). */
const RETRY_MS = 50;

interface Ack {
  seq: number;
  sentAt: number;
  at: number;
}

class FleetDriver {
  readonly acks: Ack[] = [];
  private seq = 0;
  private pending: { last: number; resolve: (r: { type: string; code?: string }) => void } | undefined;

  constructor(
    readonly driverId: string,
    private readonly ws: WebSocket,
    private readonly at: { lat: number; lng: number },
  ) {
    ws.on('message', (data: WebSocket.RawData) => {
      const r = JSON.parse(String(data)) as { type: string; seq?: number; code?: string };
      const p = this.pending;
      if (p && (r.type === 'ack' || r.type === 'error') && r.seq === p.last) {
        this.pending = undefined;
        p.resolve(r);
      }
    });
  }

  get ackedSeq(): number {
    return this.acks.at(-1)?.seq ?? 0;
  }

  async run(running: () => boolean, batchPings: number, periodMs: number, errors: Map<string, number>): Promise<void> {
    while (running()) {
      const pings = Array.from({ length: batchPings }, () => ({ seq: ++this.seq, lat: this.at.lat, lng: this.at.lng, ts: Date.now(), status: 'available' }));
      for (;;) {
        const sentAt = performance.now();
        const reply = await new Promise<{ type: string; code?: string }>((resolve) => {
          this.pending = { last: this.seq, resolve };
          this.ws.send(JSON.stringify({ type: 'pings', pings }));
        });
        if (reply.type === 'ack') {
          this.acks.push({ seq: this.seq, sentAt, at: performance.now() });
          break;
        }
        errors.set(reply.code ?? 'unknown', (errors.get(reply.code ?? 'unknown') ?? 0) + 1);
        if (!running()) return;
        await sleep(RETRY_MS);
      }
      await sleep(periodMs);
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

class FleetMatcher {
  readonly orderIds: string[] = [];
  /** Matches answered 200: when the request was sent and when it was answered (performance.now()). */
  readonly matched: { sentAt: number; at: number }[] = [];
  private n = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly name: string,
    private readonly site: { lat: number; lng: number },
  ) {}

  async run(running: () => boolean, errors: Map<string, number>): Promise<void> {
    const count = async (res: Response): Promise<void> => {
      const body = (await res.json().catch(() => ({}))) as { code?: string };
      const code = body.code ?? `http_${res.status}`;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    };
    while (running()) {
      const orderId = `${this.name}-${++this.n}`;
      this.orderIds.push(orderId);
      const pickup = { lat: this.site.lat + (this.n % 7) * 0.0005, lng: this.site.lng + (this.n % 5) * 0.0005 };
      const sentAt = performance.now();
      const res = await this.post('/v1/match', { orderId, pickup });
      if (res.status !== 200) {
        await count(res);
        await sleep(RETRY_MS);
        continue;
      }
      await res.arrayBuffer();
      this.matched.push({ sentAt, at: performance.now() });
      for (;;) {
        const c = await this.post(`/v1/orders/${orderId}/cancel`);
        if (c.status === 200) {
          await c.arrayBuffer();
          break;
        }
        const body = (await c.json().catch(() => ({}))) as { code?: string };
        if (body.code === 'order_closed') break;
        errors.set(body.code ?? `http_${c.status}`, (errors.get(body.code ?? `http_${c.status}`) ?? 0) + 1);
        if (!running()) break;
        await sleep(RETRY_MS);
      }
    }
  }

  private post(path: string, body?: unknown): Promise<Response> {
    return fetch(this.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }
}

/** What fencing looks like in the store after a run; every figure must be 0. */
export interface FenceCheck {
  /** Drivers held by two open (offered or accepted) orders. */
  heldTwice: number;
  /** Fences handed out to two orders (the counter went back in a failover). */
  fenceReused: number;
  orders: number;
}

export class Fleet {
  readonly errors = new Map<string, number>();
  private running = false;
  private loops: Promise<void>[] = [];

  private constructor(
    readonly drivers: FleetDriver[],
    readonly matchers: FleetMatcher[],
  ) {}

  /** Opens `drivers` sockets (around `site`) and `matchers` order-service loops against the gateway on `port`. */
  static async open(o: { port: number; jwtSecret: string; tag: string; drivers: number; matchers: number; site: { lat: number; lng: number } }): Promise<Fleet> {
    const tokens = new TokenService(o.jwtSecret);
    const drivers: FleetDriver[] = [];
    for (let i = 0; i < o.drivers; i++) {
      const id = `${o.tag}-d${i}`;
      const token = await tokens.sign({ role: 'driver', sub: id });
      const ws = await new Promise<WebSocket>((resolve, reject) => {
        const s = new WebSocket(`ws://127.0.0.1:${o.port}/v1/driver?token=${token}`, { perMessageDeflate: false });
        s.once('open', () => resolve(s));
        s.once('error', reject);
      });
      ws.on('error', () => {}); // a reset shows as unanswered batches
      // ~100 m apart on a grid, so every match finds several drivers within its radius.
      drivers.push(new FleetDriver(id, ws, { lat: o.site.lat + (i % 20) * 0.0009, lng: o.site.lng + Math.floor(i / 20) * 0.0013 }));
    }
    const service = await tokens.sign({ role: 'service', sub: `${o.tag}-orders` });
    const matchers = Array.from({ length: o.matchers }, (_, i) => new FleetMatcher(`http://127.0.0.1:${o.port}`, service, `${o.tag}-o${i}`, o.site));
    return new Fleet(drivers, matchers);
  }

  start(batchPings: number, periodMs: number): void {
    this.running = true;
    const running = (): boolean => this.running;
    this.loops = [...this.drivers.map((d) => d.run(running, batchPings, periodMs, this.errors)), ...this.matchers.map((m) => m.run(running, this.errors))];
  }

  /** Ends the load and waits for every batch and request in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  close(): void {
    for (const d of this.drivers) d.close();
  }

  /** Every driver has `count` acks of batches sent after `t` (performance.now()). */
  allAckedAfter(t: number, count: number): boolean {
    return this.drivers.every((d) => d.acks.filter((a) => a.sentAt > t).length >= count);
  }

  /** When the first batch sent after `t` was acked (performance.now()), Infinity if none yet. */
  firstAckAfter(t: number): number {
    return Math.min(...this.drivers.flatMap((d) => d.acks.filter((a) => a.sentAt > t).map((a) => a.at)));
  }

  /** When every driver had an ack of a batch sent after `t`. */
  allBackAfter(t: number): number {
    return Math.max(...this.drivers.map((d) => d.acks.find((a) => a.sentAt > t)?.at ?? Infinity));
  }

  /** Matches requested after `t` that succeeded. */
  matchesAfter(t: number): number {
    return this.matchers.reduce((n, m) => n + m.matched.filter((x) => x.sentAt > t).length, 0);
  }

  /** When the first match requested after `t` succeeded, Infinity if none yet. */
  firstMatchAfter(t: number): number {
    return Math.min(...this.matchers.flatMap((m) => m.matched.filter((x) => x.sentAt > t).map((x) => x.at)));
  }

  get acked(): number {
    return this.drivers.reduce((n, d) => n + d.acks.length, 0);
  }

  /** Acked batches whose seq is above what `store` holds for their driver. */
  async ackedLost(store: Backend): Promise<number> {
    let lost = 0;
    for (const d of this.drivers) {
      const stored = (await store.drivers.get(d.driverId, Date.now()))?.seq ?? 0;
      lost += d.acks.filter((a) => a.seq > stored).length;
    }
    return lost;
  }

  async fences(store: Backend): Promise<FenceCheck> {
    const holders = new Map<string, number>();
    const fences = new Map<number, number>();
    let orders = 0;
    for (const id of this.matchers.flatMap((m) => m.orderIds)) {
      const doc: OrderDoc | null = await store.orders.get(id);
      if (!doc) continue;
      orders++;
      if ((doc.state === 'offered' || doc.state === 'accepted') && doc.driverId) holders.set(doc.driverId, (holders.get(doc.driverId) ?? 0) + 1);
      if (doc.fence !== undefined) fences.set(doc.fence, (fences.get(doc.fence) ?? 0) + 1);
    }
    return {
      heldTwice: [...holders.values()].filter((n) => n > 1).length,
      fenceReused: [...fences.values()].filter((n) => n > 1).length,
      orders,
    };
  }
}
