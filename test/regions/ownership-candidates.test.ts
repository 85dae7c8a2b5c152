import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { GreatCircleEtaProvider } from '../../src/eta/great-circle-eta-provider.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { CandidateSearch } from '../../src/matching/candidate-search.js';
import { DispatchPool } from '../../src/matching/dispatch-pool.js';
import { ReservedDrivers } from '../../src/orders/reserved-drivers.js';
import { MemoryOwnershipStore } from '../../src/backend/memory/memory-ownership-store.js';
import { offset } from '../support/dispatch-client.js';

/**
 * Candidate search in region `a` with ownership (CandidateTuning.ownership,
 * over a real memory driver store and ownership store): drivers another
 * region owns, or nobody yet, are never candidates, and the search reads
 * past them to this region's drivers further away, with and without the
 * reservation hint.
 */
const PICKUP = { lat: 48.85, lng: 2.35 };
const TIMING = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };
const pool = new DispatchPool({ threads: 1, maxQueue: 0, lazy: true });
afterAll(() => pool.close());

/** `homes[i]` is the home of the driver `d-i`, 20 + 10·i m from the pickup (null: no record). */
async function world(homes: (string | null)[], withHint: boolean) {
  const drivers = new MemoryDriverStore(new RingPlanner(9), TIMING);
  const ownership = new MemoryOwnershipStore();
  const now = Date.now();
  for (const [i, home] of homes.entries()) {
    await drivers.applyBatches([{ driverId: `d-${i}`, pings: [{ seq: 1, ...offset(PICKUP, 20 + 10 * i), ts: now, status: 'available' }] }]);
    if (home) await ownership.apply(`d-${i}`, { region: home, epoch: 1 });
  }
  const reserved = new ReservedDrivers(60_000);
  const counter = new Counter({ name: 'eta_source_total', help: 'x', labelNames: ['source'], registers: [new Registry()] });
  const search = new CandidateSearch(drivers, new GreatCircleEtaProvider({ detourFactor: 1.3 }), pool, counter, {
    rankInThreadMax: 1000, ...(withHint ? { reserved } : {}), ownership: { region: 'a', regionsOf: (ids) => ownership.regionsOf(ids) },
  });
  const find = async (limit: number, exclude: string[] = []) =>
    (await search.find({ pickup: PICKUP, radiusM: 3000, exclude, limit }, Date.now())).map((c) => c.driver.driverId);
  return { reserved, find, close: () => drivers.close() };
}

describe.each([false, true])('CandidateSearch in region a with ownership (reservation hint: %s)', (withHint) => {
  it('leaves out other regions\' drivers and drivers nobody owns yet', async () => {
    const w = await world(['b', 'a', null, 'a', 'b', 'a'], withHint);
    expect(await w.find(10)).toEqual(['d-1', 'd-3', 'd-5']);
    await w.close();
  });

  it('reads past a crowd of another region\'s drivers to this region\'s further away', async () => {
    const w = await world([...Array<string>(30).fill('b'), 'a', 'a'], withHint);
    expect(await w.find(2)).toEqual(['d-30', 'd-31']);
    expect(await w.find(2, ['d-30'])).toEqual(['d-31']);
    await w.close();
  });

  it('only other regions\' drivers in reach: no candidate (never offered, whatever the hint says)', async () => {
    const w = await world(['b', 'b', 'c'], withHint);
    expect(await w.find(5)).toEqual([]);
    await w.close();
  });
});
