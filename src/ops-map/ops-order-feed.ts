import type { AssignmentEvent } from '../orders/assignment-events.js';
import type { OrderDoc } from '../orders/order.js';
import type { OrderStore } from '../orders/order-store.js';
import type { AssignmentBus } from '../tracking/assignment-bus.js';

/** One open order as the operations map draws it. */
export interface OpsOrder {
  orderId: string;
  state: 'searching' | 'offered' | 'accepted';
  pickup: { lat: number; lng: number };
  dropoff: { lat: number; lng: number } | null;
  /** The driver offered (offered) or assigned (accepted); null while searching. */
  driverId: string | null;
  /** Offers made so far. */
  attempt: number;
  /** The driver's ETA to the pickup as matching estimated it (s), and when that estimate lands (ms since the epoch). */
  etaS: number | null;
  etaAt: number | null;
  /** offered: when the offer expires (ms since the epoch). */
  offerExpiresAt: number | null;
}

/** One saga transition, numbered in the order this gateway heard it. */
export interface OpsEvent {
  seq: number;
  type: string;
  orderId: string;
  state: string;
  attempt: number;
  at: number;
  driverId: string | null;
  reason: string | null;
}

/** What `GET /v1/ops/orders` answers. */
export interface OpsSnapshot {
  /** Open orders (at most `maxOrders`; `truncated` when there were more). */
  orders: OpsOrder[];
  openOrders: number;
  truncated: boolean;
  /** Transitions heard after `since`, oldest first (at most `maxEvents`). */
  events: OpsEvent[];
  /** Pass it as `since` next time. */
  seq: number;
  /** The server's clock, so the page computes ages and countdowns without trusting its own. */
  now: number;
}

export interface OpsOrderFeedOptions {
  /** Open orders read per snapshot: the map draws a city, not a country. */
  maxOrders: number;
  /** Transitions kept for pollers (a ring). */
  maxEvents: number;
}

/**
 * The orders side of the operations map: open orders read from the order
 * store (so every gateway's orders show, and an order opened before this
 * gateway started too), and the saga transitions of every gateway heard on
 * the assignment bus, kept in a ring and numbered so a page polling with
 * `since` sees each once, in the order heard.
 *
 * Guarantees: a snapshot's orders are each as read at that moment (no
 * cross-order consistency); events older than the ring (`maxEvents`) are
 * gone — a poller that fell behind gets the newest `maxEvents` and a `seq`
 * to go on from. Costs nothing while nobody polls except one ring write per
 * transition.
 */
export class OpsOrderFeed {
  private readonly ring: OpsEvent[] = [];
  private seq = 0;
  private off: (() => void) | undefined;

  constructor(
    private readonly deps: { orders: Pick<OrderStore, 'get' | 'openOrders'>; assignments: AssignmentBus; options: OpsOrderFeedOptions },
  ) {}

  start(): void {
    this.off ??= this.deps.assignments.subscribe((e) => this.heard(e));
  }

  stop(): void {
    this.off?.();
    this.off = undefined;
  }

  /** Open orders now, and the transitions heard after `since`. Throws what the order store throws. */
  async snapshot(since: number): Promise<OpsSnapshot> {
    const ids = await this.deps.orders.openOrders();
    const { maxOrders, maxEvents } = this.deps.options;
    const docs = await Promise.all(ids.slice(0, maxOrders).map((id) => this.deps.orders.get(id)));
    const orders: OpsOrder[] = [];
    for (const doc of docs) {
      const o = doc && opsOrderOf(doc);
      if (o) orders.push(o);
    }
    const events = this.ring.filter((e) => e.seq > since).slice(-maxEvents);
    return { orders, openOrders: ids.length, truncated: ids.length > maxOrders, events, seq: this.seq, now: Date.now() };
  }

  private heard(e: AssignmentEvent): void {
    this.ring.push({
      seq: ++this.seq, type: e.type.replace('assignment.', ''), orderId: e.orderId, state: e.state, attempt: e.attempt, at: e.at,
      driverId: e.driverId ?? null, reason: e.reason ?? null,
    });
    if (this.ring.length > this.deps.options.maxEvents) this.ring.shift();
  }
}

/** An open order as the map shows it; undefined for one that closed between the listing and the read. */
export function opsOrderOf(doc: OrderDoc): OpsOrder | undefined {
  if (doc.state !== 'searching' && doc.state !== 'offered' && doc.state !== 'accepted') return undefined;
  // The ETA was estimated when the driver was offered the order: it lands that long after the last offer.
  let offeredAt: number | undefined;
  for (const h of doc.history) if (h.event === 'offered') offeredAt = h.at;
  const etaS = doc.state === 'searching' ? null : doc.etaS ?? null;
  return {
    orderId: doc.orderId,
    state: doc.state,
    pickup: { lat: doc.request.pickup.lat, lng: doc.request.pickup.lng },
    dropoff: doc.request.dropoff ? { lat: doc.request.dropoff.lat, lng: doc.request.dropoff.lng } : null,
    driverId: doc.state === 'searching' ? null : doc.driverId ?? null,
    attempt: doc.attempt,
    etaS,
    etaAt: etaS !== null && offeredAt !== undefined ? offeredAt + etaS * 1000 : null,
    offerExpiresAt: doc.state === 'offered' ? doc.offerExpiresAt ?? null : null,
  };
}
