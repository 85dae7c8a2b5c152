import { describe, expect, it } from 'vitest';
import { fillTemplate, offerTemplate, pickValues } from '../../src/backend/redis/offer-template.js';
import { type OfferPick, offeredDoc } from '../../src/orders/offered-doc.js';
import type { OrderDoc } from '../../src/orders/order.js';

/** createOrder.lua writes the template filled with the reserved pick's values: it must be JSON.stringify(offeredDoc(…)) byte for byte. */
describe('offerTemplate', () => {
  const now = 1_796_000_000_123;
  const searching: OrderDoc = {
    orderId: 'o-"quoted"\\1', state: 'searching',
    request: { orderId: 'o-"quoted"\\1', pickup: { lat: 52.520008, lng: 13.404954 }, dropoff: { lat: -0.5, lng: 179.9999999 }, radiusM: 2500.5, requirements: { vehicle: ['bike', 'car'] }, mode: 'immediate' },
    requestHash: 'ab'.repeat(32), attempt: 0, tried: [], history: [], leaseUntil: now + 5000, createdAt: now, updatedAt: now, version: 0,
  };
  const picks: OfferPick[] = [
    { driverId: 'd-1', distanceM: 0, etaS: 0, etaSource: 'provider' },
    { driverId: 'drv "x" \\ y', distanceM: 1234567, etaS: 3601, etaSource: 'fallback' },
    { driverId: '~!@#$%^&*()_+{}|:<>?', distanceM: 12, etaS: 99999, etaSource: 'provider' },
  ];
  it.each(picks)('filled with $driverId it is the offered document\'s JSON', (pick) => {
    const t = offerTemplate(searching, now, now + 20_000);
    const { version: _v, ...body } = offeredDoc(searching, pick, now, now + 20_000);
    expect(fillTemplate(t, pickValues(pick))).toBe(JSON.stringify(body));
  });

  it('works for an order with history (a resumed search), and offeredDoc clears the lease', () => {
    const resumed: OrderDoc = { ...searching, attempt: 2, tried: ['a', 'b'], history: [{ at: 1, event: 'offered', attempt: 1, driverId: 'a' }, { at: 2, event: 'expired', attempt: 1, driverId: 'a' }] };
    const pick = picks[1]!;
    const doc = offeredDoc(resumed, pick, now, now + 1);
    expect(doc).toMatchObject({ state: 'offered', attempt: 3, driverId: pick.driverId, tried: ['a', 'b', pick.driverId], offerExpiresAt: now + 1 });
    expect(doc.history.at(-1)).toEqual({ at: now, event: 'offered', attempt: 3, driverId: pick.driverId });
    expect(doc.leaseUntil).toBeUndefined();
    const { version: _v, ...body } = doc;
    expect(fillTemplate(offerTemplate(resumed, now, now + 1), pickValues(pick))).toBe(JSON.stringify(body));
  });
});
