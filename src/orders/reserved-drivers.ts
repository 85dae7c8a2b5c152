import type { ReservationHint } from '../matching/candidate-search.js';
import type { AssignmentEvent } from './assignment-events.js';

/**
 * What this gateway knows of which drivers are reserved, learnt from the
 * saga events of every gateway (the assignment bus: offered, accepted,
 * then rejected, expired, cancelled or completed), so that candidate search
 * skips them instead of paying a refused commit for each: a busy area full
 * of reserved drivers no longer costs a round trip per driver.
 *
 * A hint, never the truth: the backend re-checks every reservation
 * atomically. It can be wrong both ways, and either way costs no wrong
 * assignment:
 * - a reservation it has not heard of yet (an event in flight, a gateway
 *   started after the offer, a restored order) costs a refused commit, as
 *   before;
 * - a driver it still holds after the release (an event lost with a
 *   subscription) is skipped while others are free, and offered again
 *   when nobody else is (CandidateSearch falls back to the skipped ones).
 *   An offer's entry ends with its lease at the latest, an accepted one at
 *   its release; a lost subscription (`clear`) forgets everything.
 *
 * Events of one order may overtake another order's (no order across
 * gateways): a release only removes the entry of the order it names.
 */
export class ReservedDrivers implements ReservationHint {
  private readonly held = new Map<string, { orderId: string; until: number }>();

  constructor(
    /** How long an offer's reservation lasts (offer timeout + reservation margin): its entry ends then. */
    private readonly offerLeaseMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Feeds one saga event (this gateway's or another's). */
  onEvent(e: AssignmentEvent): void {
    const driverId = e.driverId;
    if (driverId === undefined) return;
    switch (e.type) {
      case 'assignment.offered':
        this.held.set(driverId, { orderId: e.orderId, until: this.clock() + this.offerLeaseMs });
        return;
      case 'assignment.accepted':
        this.held.set(driverId, { orderId: e.orderId, until: Infinity });
        return;
      case 'assignment.rejected':
      case 'assignment.expired':
      case 'assignment.cancelled':
      case 'assignment.completed':
        if (this.held.get(driverId)?.orderId === e.orderId) this.held.delete(driverId);
        return;
      default:
    }
  }

  isReserved(driverId: string, now: number): boolean {
    const h = this.held.get(driverId);
    if (h === undefined) return false;
    if (h.until > now) return true;
    this.held.delete(driverId);
    return false;
  }

  /** Forgets every entry: events may have been lost (a lost subscription). */
  clear(): void {
    this.held.clear();
  }

  /** Drivers held now (the metric): lapsed entries are dropped on the way, so the map never outgrows the fleet's live offers and accepted orders by much. */
  get size(): number {
    const now = this.clock();
    for (const [driverId, h] of this.held) if (h.until <= now) this.held.delete(driverId);
    return this.held.size;
  }
}
