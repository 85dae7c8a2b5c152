import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { GreatCircleEtaProvider } from '../../src/eta/great-circle-eta-provider.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { CandidateSearch } from '../../src/matching/candidate-search.js';
import { DispatchPool } from '../../src/matching/dispatch-pool.js';
import { ReservedDrivers } from '../../src/orders/reserved-drivers.js';
import { offset } from '../support/dispatch-client.js';

/**
 * Candidate search with the reservation hint (ReservedDrivers fed with saga
 * events as the assignment bus delivers them), over a real memory driver
 * store: reserved drivers do not count toward the limit and are skipped,
 * unless nobody else is left, since the hint may be stale (a release it
 * never heard of) and must never turn a match into no_driver.
 */
const PICKUP = { lat: 48.85, lng: 2.35 };
const TIMING = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };
const pool = new DispatchPool({ threads: 1, maxQueue: 0, lazy: true });
afterAll(() => pool.close());

async function world(near: number, farM: number | null) {
  const drivers = new MemoryDriverStore(new RingPlanner(9), TIMING);
  const now = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < near; i++) {
    ids.push(`near-${i}`);
    await drivers.applyBatches([{ driverId: `near-${i}`, pings: [{ seq: 1, ...offset(PICKUP, 20 + 10 * i), ts: now, status: 'available' }] }]);
  }
  if (farM !== null) await drivers.applyBatches([{ driverId: 'far', pings: [{ seq: 1, ...offset(PICKUP, farM), ts: now, status: 'available' }] }]);
  const reserved = new ReservedDrivers(60_000);
  const counter = new Counter({ name: 'eta_source_total', help: 'x', labelNames: ['source'], registers: [new Registry()] });
  const search = new CandidateSearch(drivers, new GreatCircleEtaProvider({ detourFactor: 1.3 }), pool, counter, { rankInThreadMax: 1000, reserved });
  const find = async (limit: number, exclude: string[] = []) =>
    (await search.find({ pickup: PICKUP, radiusM: 3000, exclude, limit }, Date.now())).map((c) => c.driver.driverId);
  return { ids, reserved, find, close: () => drivers.close() };
}

const offered = (driverId: string, orderId = `o-${driverId}`) => ({ type: 'assignment.offered' as const, orderId, state: 'offered' as const, attempt: 1, at: Date.now(), driverId });

describe('CandidateSearch with the reservation hint', () => {
  it('reads past reserved drivers: the limit counts free ones, nearest first', async () => {
    const w = await world(30, 2000);
    for (const id of w.ids.slice(0, 25)) w.reserved.onEvent(offered(id));
    expect(await w.find(4)).toEqual(['near-25', 'near-26', 'near-27', 'near-28']);
    expect(await w.find(10)).toEqual(['near-25', 'near-26', 'near-27', 'near-28', 'near-29', 'far']);
    await w.close();
  });

  it('when every driver in reach is held by the hint, they come back (the backend decides), excluded ones still out', async () => {
    const w = await world(5, null);
    for (const id of w.ids) w.reserved.onEvent(offered(id));
    expect(await w.find(3, ['near-0'])).toEqual(['near-1', 'near-2']);
    await w.close();
  });

  it('a release frees the driver only for the order that held it; accepted holds until released; clear forgets all', async () => {
    const w = await world(3, null);
    w.reserved.onEvent(offered('near-0', 'o-a'));
    w.reserved.onEvent({ ...offered('near-1', 'o-b'), type: 'assignment.accepted', state: 'accepted' });
    // A late expiry of an older order of near-0 (events of two orders may cross): near-0 stays held.
    w.reserved.onEvent({ ...offered('near-0', 'o-old'), type: 'assignment.expired', state: 'searching' });
    expect(await w.find(10)).toEqual(['near-2']);
    w.reserved.onEvent({ ...offered('near-0', 'o-a'), type: 'assignment.cancelled', state: 'cancelled' });
    expect(await w.find(10)).toEqual(['near-0', 'near-2']);
    expect(w.reserved.size).toBe(1);
    w.reserved.clear();
    expect(await w.find(10)).toEqual(['near-0', 'near-1', 'near-2']);
    await w.close();
  });

  it('an offer\'s hold lapses with its lease', () => {
    let t = 1_000;
    const r = new ReservedDrivers(500, () => t);
    r.onEvent(offered('d'));
    expect(r.isReserved('d', t)).toBe(true);
    t += 500;
    expect(r.isReserved('d', t)).toBe(false);
    expect(r.size).toBe(0);
  });
});
