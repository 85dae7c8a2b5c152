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

  /** Keeps the event's order unless a version at least as new is kept (the event's version is the order's after it). */
  offer(event: OrderEvent): void {
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

/** Thrown when the order store of this build cannot restore orders (see `restoreOrder`). */
export class OrderRestoreUnavailable extends Error {
  constructor() {
    super('this build\'s OrderStore has no restore(doc): order events were read and counted but not written');
    this.name = 'OrderRestoreUnavailable';
  }
}

/** What `OrderStore.restore` is specified to do; the transactional-outbox work adds it to the contract. */
interface RestoringOrderStore {
  /**
   * Writes the order as of its version if the stored version is lower,
   * re-deriving its reservation, deadline and open-set membership; a
   * terminal order is kept `retainMs` from now (forever when absent).
   * True if it wrote.
   */
  restore(doc: OrderDoc, options?: { retainMs?: number }): Promise<boolean>;
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
 * released rather than left stranded.
 *
 * Until `restore` is part of `OrderStore`, the method is looked up at run
 * time and its absence throws `OrderRestoreUnavailable`; once it lands this
 * becomes a direct `store.restore(doc, …)` call.
 */
export async function restoreOrder(store: OrderStore, doc: OrderDoc, retentionMs: number | undefined, now: number): Promise<boolean> {
  const restoring = store as OrderStore & Partial<RestoringOrderStore>;
  if (typeof restoring.restore !== 'function') throw new OrderRestoreUnavailable();
  if (isOpen(doc.state) || retentionMs === undefined) return restoring.restore(doc);
  return restoring.restore(doc, { retainMs: Math.max(1, doc.updatedAt + retentionMs - now) });
}
