import { isOpen, type OrderDoc } from '../orders/order.js';
import type { OrderEvent } from '../orders/order-events.js';
import type { OrderStore } from '../orders/order-store.js';

/**
 * The newest version of each order seen in the window: an order event
 * carries the whole order after its transition, so the newest one is the
 * order's state at the end of the window and the older ones need no writing.
 */
export class NewestOrders {
  private readonly docs = new Map<string, OrderDoc>();
  /** Events seen whose version was not newer than one already kept (older transitions, or the same one twice). */
  superseded = 0;

  /**
   * Keeps the event's order unless a version at least as new is kept (the
   * event's version is the order's after it). Throws for a version no commit
   * makes (the record is then undecodable, not a reason to stop).
   */
  offer(event: OrderEvent): void {
    if (!Number.isSafeInteger(event.version) || event.version < 1) throw new Error(`order ${event.orderId}: version ${event.version} is not a positive integer`);
    const kept = this.docs.get(event.orderId);
    if (kept && kept.version >= event.version) {
      this.superseded++;
      return;
    }
    if (kept) this.superseded++;
    this.docs.set(event.orderId, { ...event.doc, orderId: event.orderId, version: event.version });
  }

  get size(): number {
    return this.docs.size;
  }

  values(): IterableIterator<OrderDoc> {
    return this.docs.values();
  }
}

/**
 * Writes one order as the log last saw it, through `OrderStore.restore`
 * (idempotent: a store already at that version or a newer one is left as it
 * is). Resolves true when the store took it, false when it already held that
 * version or a newer one.
 *
 * A finished order is kept for what remains of its retention
 * (`retentionMs` after its last transition, as the saga's commit kept it);
 * one whose retention is over is still written, for a moment, so that an
 * older open version the store may hold (a backup) is closed and its driver
 * released rather than left stranded. `foreign`: another region's order,
 * replicated (RestoreOptions.foreign: read-only, no reservation, no deadline).
 */
export function restoreOrder(store: OrderStore, doc: OrderDoc, retentionMs: number | undefined, now: number, o: { foreign?: boolean } = {}): Promise<boolean> {
  const foreign = o.foreign ? { foreign: true } : {};
  if (isOpen(doc.state) || retentionMs === undefined) return store.restore(doc, foreign);
  return store.restore(doc, { retainMs: Math.max(1, doc.updatedAt + retentionMs - now), ...foreign });
}
