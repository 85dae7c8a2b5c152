import type { AssignmentEvent } from '../orders/assignment-events.js';

/** What the assignment bus last said about an order. */
export interface HeardAssignment {
  /** The accepted driver, or undefined when the order has none (searching, offered, closed). */
  driverId: string | undefined;
  /** The event's time (the saga's clock), to order it against later ones. */
  at: number;
}

/**
 * Orders' drivers as the assignment bus announced them, for a short while:
 * a customer subscribing right after its order was accepted (the usual
 * burst) gets its first status without reading the order from the store.
 *
 * Guarantees: an entry is what the newest event heard for the order said,
 * and is used only within `ttlMs` of hearing it — the bus may lose an event
 * (it keeps nothing), so an older entry could miss a later transition and
 * the store is read instead. At most `capacity` orders are kept (the oldest
 * heard go first): a fixed memory bound whatever the order rate.
 */
export class RecentAssignments {
  private readonly heard = new Map<string, HeardAssignment & { heardAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly capacity: number,
  ) {}

  /** Records an event heard on the bus at `now`. */
  note(e: AssignmentEvent, now: number): void {
    const prev = this.heard.get(e.orderId);
    if (prev && prev.at > e.at) return;
    this.heard.delete(e.orderId); // re-inserted last: Map order is hearing order
    this.heard.set(e.orderId, { driverId: e.state === 'accepted' ? e.driverId : undefined, at: e.at, heardAt: now });
    if (this.heard.size > this.capacity) this.heard.delete(this.heard.keys().next().value!);
  }

  /** The order's driver as last heard within the TTL, or undefined (not heard, or too long ago: read the store). */
  get(orderId: string, now: number): HeardAssignment | undefined {
    const h = this.heard.get(orderId);
    return h && now - h.heardAt <= this.ttlMs ? h : undefined;
  }
}
