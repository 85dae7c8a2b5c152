import type { OrderDoc } from './order.js';

/** The driver an offer goes to, with the estimate the order records (a ranked candidate, reduced to what the order keeps). */
export interface OfferPick {
  driverId: string;
  distanceM: number;
  etaS: number;
  etaSource: 'provider' | 'fallback';
}

/**
 * A searching order as offered to `pick`: one more attempt, the driver
 * tried and in the history, the offer's deadline; the search lease gone.
 * The one definition of an offer's document: the saga commits it, and an
 * order store that creates an order together with its first offer
 * (OrderStore.create) writes exactly this for the pick it reserved.
 */
export function offeredDoc(doc: OrderDoc, pick: OfferPick, now: number, offerExpiresAt: number): OrderDoc {
  const { driverId } = pick;
  const attempt = doc.attempt + 1;
  const next: OrderDoc = {
    ...doc, state: 'offered', attempt, driverId, offerExpiresAt,
    distanceM: pick.distanceM, etaS: pick.etaS, etaSource: pick.etaSource,
    tried: [...doc.tried, driverId],
    history: [...doc.history, { at: now, event: 'offered', attempt, driverId }],
    updatedAt: now,
  };
  delete next.leaseUntil;
  return next;
}
