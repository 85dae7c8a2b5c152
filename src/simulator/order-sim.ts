import WebSocket from 'ws';
import { TrackingClient } from '../sdk/tracking-client.js';
import type { CityArea } from './city-area.js';
import type { MatchApi, MatchOutcome } from './match-api.js';
import type { Rng } from './rng.js';
import type { SimStats } from './sim-stats.js';
import type { TokenMinter } from './token-minter.js';

/** The order clock. Orders are spread within each second rather than placed in bursts. */
const TICK_MS = 100;
/** Match requests in flight at once: a gateway that slows down gets less, not more, traffic. */
const MAX_HTTP_INFLIGHT = 64;
/** An order nobody accepted by then (every driver rejected, offers expired) is cancelled by its customer. */
const ACCEPT_WAIT_MS = 60_000;
/** An accepted order ends this long after acceptance, or sooner when its courier reaches the drop-off (deliveries are compressed so a demo turns over). */
const DELIVERY_MS: readonly [number, number] = [20_000, 90_000];
/** Share of accepted orders the customer cancels before delivery. */
const CANCEL_PROBABILITY = 0.05;
/**
 * Match calls per order: a 409/503 or an unanswered call is asked again with
 * the same order id (after 250 ms, then 500 ms), since a refused match may
 * have reserved a driver all the same (docs/dispatch.md, "Retry with the same
 * order id"); an order still unanswered then is given up and cancelled.
 */
const MATCH_ATTEMPTS = 3;
const MATCH_RETRY_MS = 250;
/** How long closing waits for the cancellation of orders still open, so their drivers are freed on the engine. */
const CLOSE_CANCEL_WAIT_MS = 5_000;

interface OpenOrder {
  id: string;
  driverId: string | undefined;
  accepted: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  tracker: TrackingClient | undefined;
}

export interface OrderSimOptions {
  ordersPerMinute: number;
  maxOpenOrders: number;
  maxTracked: number;
  wsRoots: readonly string[];
  runId: string;
  area: CityArea;
  rng: Rng;
  stats: SimStats;
  api: MatchApi;
  minter: TokenMinter;
  /** PEM CA trusted for wss:// (`--ca`). */
  ca?: string;
  /** The order of `driverId` ended: free the driver. */
  release: (driverId: string, orderId: string) => void;
}

/**
 * The order service and its customers: places orders at the requested rate
 * through POST /v1/match, watches each matched one (up to `maxTracked`) on
 * /v1/track through a TrackingClient with a customer token naming it,
 * completes it after delivery or cancels it, and frees its driver.
 *
 * Bounded: at most `maxOpenOrders` open orders (one timer each), at most
 * MAX_HTTP_INFLIGHT match calls, at most `maxTracked` tracking sockets; an
 * order that would pass a bound is not placed and is counted as skipped.
 */
export class OrderSim {
  private readonly open = new Map<string, OpenOrder>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private credit = 0;
  private lastTickAt = 0;
  private seq = 0;
  private httpInflight = 0;
  private tracked = 0;
  private closing = false;
  /** Orders whose match call has not returned yet, with the driver that accepted meanwhile (a fast courier beats the HTTP answer). */
  private readonly placing = new Map<string, string | undefined>();

  constructor(private readonly o: OrderSimOptions) {}

  get openOrders(): number {
    return this.open.size;
  }

  get openSubscriptions(): number {
    return this.tracked;
  }

  start(): void {
    this.lastTickAt = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** A driver's acceptance was confirmed by the gateway. */
  onAccepted(orderId: string, driverId: string): void {
    if (this.placing.has(orderId)) return void this.placing.set(orderId, driverId);
    const order = this.open.get(orderId);
    if (!order) {
      // Already ended (cancelled while the answer travelled), or given up unanswered and accepted all the same: the
      // engine is told again (a cancel of a cancelled order is a no-op), so it does not hold the driver for nothing.
      void this.o.api.finish(orderId, 'cancel').catch(() => undefined);
      return void this.o.release(driverId, orderId);
    }
    order.accepted = true;
    order.driverId = driverId;
    this.o.stats.ordersAccepted++;
    clearTimeout(order.timer);
    const deliveryMs = this.o.rng.between(...DELIVERY_MS);
    const cancel = this.o.rng.chance(CANCEL_PROBABILITY);
    order.timer = setTimeout(() => void this.finish(order, cancel ? 'cancel' : 'complete'), cancel ? this.o.rng.between(0, deliveryMs) : deliveryMs);
  }

  /** The courier reached the drop-off. */
  onDelivered(orderId: string): void {
    const order = this.open.get(orderId);
    if (order?.accepted) void this.finish(order, 'complete');
  }

  /** Stops placing orders, cancels those still open (bounded wait) and closes every tracking socket. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    const orders = [...this.open.values()];
    for (const order of orders) clearTimeout(order.timer);
    const cancels = Promise.all(orders.map((order) => this.finish(order, 'cancel')));
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([cancels, new Promise((r) => (t = setTimeout(r, CLOSE_CANCEL_WAIT_MS)))]);
    clearTimeout(t);
    await Promise.all(orders.map((order) => this.untrack(order)));
  }

  private tick(): void {
    const now = Date.now();
    this.credit += ((now - this.lastTickAt) / 60_000) * this.o.ordersPerMinute;
    this.lastTickAt = now;
    // A stalled event loop does not turn into a burst of orders afterwards.
    this.credit = Math.min(this.credit, Math.max(1, this.o.ordersPerMinute / 60));
    while (this.credit >= 1) {
      this.credit--;
      if (this.open.size >= this.o.maxOpenOrders || this.httpInflight >= MAX_HTTP_INFLIGHT) this.o.stats.ordersSkipped++;
      else void this.place();
    }
  }

  private async place(): Promise<void> {
    const { area, rng, stats, api } = this.o;
    const id = `${this.o.runId}-o${this.seq++}`;
    const pickup = area.randomPoint(rng);
    const dropoff = area.randomPoint(rng);
    stats.ordersPlaced++;
    this.httpInflight++;
    this.placing.set(id, undefined);
    let outcome: MatchOutcome | { kind: 'unanswered'; code: string };
    let acceptedBy: string | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          outcome = await api.match({ orderId: id, pickup: round7(pickup), dropoff: round7(dropoff) });
        } catch (err) {
          outcome = { kind: 'unanswered', code: (err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable' };
        }
        if ((outcome.kind !== 'retryable' && outcome.kind !== 'unanswered') || attempt >= MATCH_ATTEMPTS || this.closing) break;
        await new Promise((r) => setTimeout(r, MATCH_RETRY_MS * 2 ** (attempt - 1)));
      }
    } finally {
      this.httpInflight--;
      acceptedBy = this.placing.get(id);
      this.placing.delete(id);
    }
    if (outcome.kind === 'retryable' || outcome.kind === 'unanswered') {
      // Given up: cancelled, in case one of the calls reserved a driver after all.
      void api.finish(id, 'cancel').catch(() => undefined);
      if (acceptedBy !== undefined) this.o.release(acceptedBy, id);
    }
    switch (outcome.kind) {
      case 'no_driver':
        stats.matchNoDriver++;
        return;
      case 'unanswered':
        stats.matchErrors++;
        stats.error(`match:${outcome.code}`);
        return;
      case 'retryable':
        stats.matchRetryable++;
        stats.error(`match:${outcome.code}`);
        return;
      case 'error':
        stats.matchErrors++;
        stats.error(`match:${outcome.code}`);
        return;
      case 'ok':
        break;
    }
    stats.matchOk++;
    if (this.closing) {
      if (acceptedBy !== undefined) this.o.release(acceptedBy, id);
      return void api.finish(id, 'cancel').catch(() => undefined);
    }
    const order: OpenOrder = { id, driverId: undefined, accepted: false, timer: undefined, tracker: undefined };
    order.timer = setTimeout(() => void this.finish(order, 'cancel'), ACCEPT_WAIT_MS);
    this.open.set(id, order);
    if (acceptedBy !== undefined) this.onAccepted(id, acceptedBy);
    if (this.tracked < this.o.maxTracked) await this.track(order);
  }

  private async track(order: OpenOrder): Promise<void> {
    const { stats, wsRoots } = this.o;
    this.tracked++;
    const n = wsRoots.length;
    const first = this.seq % n;
    const tracker = new TrackingClient({
      urls: Array.from({ length: n }, (_, k) => `${wsRoots[(first + k) % n]!}/v1/track`),
      token: await this.o.minter.customer(`${order.id}-customer`, order.id),
      WebSocket,
      ...(this.o.ca === undefined ? {} : { ca: this.o.ca }),
    });
    order.tracker = tracker;
    stats.subscriptionsOpened++;
    tracker.on('position', () => stats.positionsReceived++);
    tracker.on('status', () => stats.statusFrames++);
    tracker.on('assignment', (a) => {
      stats.assignmentFrames++;
      // Every driver rejected or let the offer expire: the order is over.
      if (a.state === 'failed' && this.open.get(order.id) === order) {
        this.open.delete(order.id);
        clearTimeout(order.timer);
        stats.ordersFailed++;
        void this.untrack(order);
      }
    });
    tracker.on('error', (e) => stats.error(`track:${e.code}`));
    tracker.subscribe(order.id);
    // The order may have ended while the token was signed.
    if (this.open.get(order.id) !== order) await this.untrack(order);
  }

  private async untrack(order: OpenOrder): Promise<void> {
    const tracker = order.tracker;
    if (!tracker) return;
    order.tracker = undefined;
    this.tracked--;
    await tracker.close().catch(() => undefined);
  }

  private async finish(order: OpenOrder, action: 'complete' | 'cancel'): Promise<void> {
    if (this.open.get(order.id) !== order) return;
    this.open.delete(order.id);
    clearTimeout(order.timer);
    const { stats, api } = this.o;
    try {
      const r = await api.finish(order.id, action);
      if (r.status === 200) {
        if (action === 'complete') stats.ordersCompleted++;
        else stats.ordersCancelled++;
      } else if (r.code === 'order_closed') {
        // It ended on the engine first (every offer rejected or expired: failed).
        stats.ordersFailed++;
      } else stats.error(`${action}:${r.code ?? r.status}`);
    } catch {
      stats.error(`${action}:unreachable`);
    } finally {
      if (order.driverId !== undefined) this.o.release(order.driverId, order.id);
      await this.untrack(order);
    }
  }
}

/** 1e-7° is what the store keeps (~1 cm); shorter bodies, same request. */
function round7(p: { lat: number; lng: number }): { lat: number; lng: number } {
  return { lat: Math.round(p.lat * 1e7) / 1e7, lng: Math.round(p.lng * 1e7) / 1e7 };
}
