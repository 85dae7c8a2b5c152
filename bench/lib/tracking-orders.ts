import type { OrderDoc } from '../../src/orders/order.js';
import { openBenchBackend } from './bench-backend.js';
import { CITY_BOX, driverId } from './driver-sim.js';

/** Commits in flight while loading (each one Lua call). */
const INFLIGHT = 200;

export const orderIdOf = (i: number): string => 'ot' + String(i).padStart(7, '0');

/**
 * One accepted order per driver, committed straight into the order store the
 * gateways read (the Redis backend's OrderStore.commit under their prefix), as the saga
 * leaves it after "offered → accepted": state accepted, driverId, history.
 *
 * Not through POST /v1/match + accept: matching is bench:match's subject, and
 * what the tracking hub reads of an order on subscribe is exactly this
 * document (OrderStore.get → state accepted → driverId). No reservation is
 * written (the commit reserves only available, indexed drivers, and these
 * have not pinged yet), so the gateways run with reconciliation off.
 */
export async function commitAcceptedOrders(redisUrl: string, prefix: string, h3Resolution: number, drivers: number, idTag: string): Promise<string[]> {
  const backend = await openBenchBackend({ redisUrl, prefix, h3Resolution });
  const store = backend.orders;
  const ids = Array.from({ length: drivers }, (_, i) => orderIdOf(i));
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < ids.length) {
      const i = next++;
      const now = Date.now();
      const orderId = ids[i]!;
      const d = driverId(idTag, i);
      const doc: OrderDoc = {
        orderId,
        state: 'accepted',
        request: { orderId, pickup: { lat: CITY_BOX.lat, lng: CITY_BOX.lng }, radiusM: 3000, mode: 'immediate' },
        requestHash: 'bench-tracking',
        attempt: 1,
        driverId: d,
        tried: [d],
        history: [
          { at: now, event: 'offered', attempt: 1, driverId: d },
          { at: now, event: 'accepted', attempt: 1, driverId: d },
        ],
        createdAt: now,
        updatedAt: now,
        version: 0,
      };
      const r = await store.commit(doc, 0, { deadline: null }, now);
      if (!r.ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, lane)).finally(() => backend.close());
  if (failed > 0) throw new Error(`${failed} of ${drivers} orders could not be committed`);
  return ids;
}
