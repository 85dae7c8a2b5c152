import { latLngToCell } from 'h3-js';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  ApplyOutcome,
  DriverBatch,
  DriverStatus,
  DriverStore,
  NearbyOptions,
  Ping,
  StoredStatus,
  StoreTiming,
} from '../../src/geo/driver-store.js';
import { distanceM, quantize, quantizeMetric } from '../../src/geo/geodesy.js';
import type { IndexTamper } from '../support/index-tamper.js';
import { destination } from './geo-fixtures.js';
import {
  bruteForceNearby,
  cellEdgeDataSet,
  cityDataSet,
  clusterDataSet,
  type DataSet,
  type NearbyRow,
  pentagonCenter,
  type PlacedDriver,
} from './nearby-data-sets.js';

/** Opens an empty store; `cleanup` closes it and removes whatever it stored. */
export type MakeStore = (
  timing: StoreTiming,
  resolution: number,
) => Promise<{ store: DriverStore; tamper: IndexTamper; cleanup: () => Promise<void> }>;

export const CONTRACT_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 7 * 86_400_000 };
const T = CONTRACT_TIMING;

/** The clock of every case: an explicit `now` goes to every call, the wall clock is never read. */
const NOW = 1_750_000_000_000;
const BERLIN: [number, number] = [52.52, 13.405];

/** A point `northM` / `eastM` metres from Berlin's centre. */
function berlin(northM: number, eastM = 0): [number, number] {
  const [lat, lng] = destination(BERLIN[0], BERLIN[1], 0, northM);
  return destination(lat, lng, 90, eastM);
}

/** Outcomes without the record they carry (checked on its own where it matters). */
function counts(outcomes: readonly ApplyOutcome[]): { applied: number; duplicates: number }[] {
  return outcomes.map(({ applied, duplicates }) => ({ applied, duplicates }));
}

function ping(seq: number, [lat, lng]: [number, number], ts: number, status?: DriverStatus): Ping {
  return status ? { seq, lat, lng, ts, status } : { seq, lat, lng, ts };
}

async function applyDrivers(store: DriverStore, ds: readonly PlacedDriver[], now: number): Promise<void> {
  for (let i = 0; i < ds.length; i += 500) {
    const batches: DriverBatch[] = ds.slice(i, i + 500).map((d) => ({
      driverId: d.driverId,
      pings: [ping(1, [d.lat, d.lng], d.ts, d.status === 'unknown' ? undefined : d.status)],
    }));
    await store.applyBatches(batches, now);
  }
}

/**
 * The DriverStore conformance suite (STYLE.md habit 8): every implementation
 * must pass the same cases. Each case opens its own empty store, so drivers
 * and sweep counts never leak between cases.
 */
export function driverStoreContract(name: string, makeStore: MakeStore): void {
  describe(`DriverStore contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });
    const tampers = new WeakMap<DriverStore, IndexTamper>();
    async function open(resolution = 9): Promise<DriverStore> {
      const { store, tamper, cleanup } = await makeStore(T, resolution);
      cleanups.push(cleanup);
      tampers.set(store, tamper);
      return store;
    }
    async function idsNear(store: DriverStore, at: [number, number], radiusM: number, options: Partial<NearbyOptions> = {}, now = NOW): Promise<string[]> {
      const found = await store.nearby(at[0], at[1], radiusM, { limit: 1000, ...options }, now);
      return found.map((d) => d.driverId);
    }

    describe('apply then get', () => {
      const cases: { name: string; ping: Ping }[] = [
        { name: 'every field, finer than stored', ping: { seq: 7, lat: 52.520006612345, lng: 13.404953987654, ts: NOW - 1234, acc: 12.345, spd: 8.125, hdg: 359.994, status: 'available' } },
        { name: 'no optional field: status unknown', ping: { seq: 1, lat: 52.5, lng: 13.4, ts: NOW } },
        { name: 'south-west, zeros, at the stale edge', ping: { seq: 3, lat: -33.8678512, lng: -70.6482301, ts: NOW - T.staleMs, acc: 0, spd: 0, hdg: 0, status: 'busy' } },
        { name: 'rounds onto the antimeridian', ping: { seq: 2, lat: 65.000000049, lng: 179.99999996, ts: NOW - 5, hdg: 0.005, status: 'offline' } },
        { name: 'next to the south pole', ping: { seq: 9, lat: -89.9999999, lng: -179.9999999, ts: NOW, acc: 3.3 } },
        { name: 'fix from the future: age 0', ping: { seq: 4, lat: 1e-7, lng: -1e-7, ts: NOW + 800, spd: 33.335 } },
      ];
      it.each(cases)('$name', async ({ ping: p }) => {
        const store = await open();
        const outcome = await store.applyBatches([{ driverId: 'drv-1', pings: [p] }], NOW);
        expect(counts(outcome)).toEqual([{ applied: 1, duplicates: 0 }]);
        const lat = quantize(p.lat);
        const lng = quantize(p.lng);
        // The record an outcome carries (what other gateways' read indexes apply) is the stored one.
        const { ageMs: _a, stale: _s, ...stored } = (await store.get('drv-1', NOW))!;
        expect(outcome[0]!.record).toEqual(stored);
        expect(await store.get('drv-1', NOW)).toEqual({
          driverId: 'drv-1', lat, lng, ts: p.ts, seq: p.seq, status: p.status ?? 'unknown', vehicle: 'unknown',
          cell: latLngToCell(lat, lng, 9),
          acc: quantizeMetric(p.acc), spd: quantizeMetric(p.spd), hdg: quantizeMetric(p.hdg),
          indexed: true, ageMs: Math.max(0, NOW - p.ts), stale: false,
        });
      });

      it('an unknown driver is null', async () => {
        const store = await open();
        await store.applyBatches([{ driverId: 'drv-1', pings: [ping(1, BERLIN, NOW)] }], NOW);
        expect(await store.get('drv-2', NOW)).toBeNull();
      });
    });

    describe('exactly once by seq', () => {
      /** Ping n of a phase moves ~400 m north (a new cell at res 9) and 100 ms later than ping n−1. */
      const phasePing = (phase: number, seq: number, i: number): Ping =>
        ping(seq, berlin(phase * 5_000 + i * 400), NOW - 60_000 + phase * 10_000 + i * 100);
      const cases = [
        { name: 'the same batch again', first: [1, 2, 3], then: [1, 2, 3], outcome: { applied: 0, duplicates: 3 }, seq: 3, stored: ['first', 2] },
        { name: 'old and new seqs mixed', first: [1, 2, 3], then: [2, 3, 4, 5], outcome: { applied: 2, duplicates: 2 }, seq: 5, stored: ['then', 3] },
        { name: 'equal seqs in one batch count once', first: [], then: [4, 4, 5, 5, 5], outcome: { applied: 2, duplicates: 3 }, seq: 5, stored: ['then', 2] },
        { name: 'equal seqs after stored ones', first: [1], then: [1, 2, 2], outcome: { applied: 1, duplicates: 2 }, seq: 2, stored: ['then', 1] },
        { name: 'every seq at or below the stored one', first: [10], then: [3, 7, 10], outcome: { applied: 0, duplicates: 3 }, seq: 10, stored: ['first', 0] },
        { name: 'gaps in seq are fine', first: [1], then: [5, 100], outcome: { applied: 2, duplicates: 0 }, seq: 100, stored: ['then', 1] },
      ] as const;
      it.each(cases)('$name', async ({ first, then, outcome, seq, stored }) => {
        const store = await open();
        const pings = { first: first.map((s, i) => phasePing(0, s, i)), then: then.map((s, i) => phasePing(1, s, i)) };
        if (first.length > 0) await store.applyBatches([{ driverId: 'drv-1', pings: pings.first }], NOW);
        expect(counts(await store.applyBatches([{ driverId: 'drv-1', pings: pings.then }], NOW))).toEqual([outcome]);
        const at = pings[stored[0]][stored[1]]!;
        const rec = await store.get('drv-1', NOW);
        expect(rec).toMatchObject({ seq, lat: quantize(at.lat), lng: quantize(at.lng), ts: at.ts, indexed: true });
        expect(rec?.cell).toBe(latLngToCell(quantize(at.lat), quantize(at.lng), 9));
        expect(await idsNear(store, [at.lat, at.lng], 20_000, { includeStale: true })).toEqual(['drv-1']);
      });

      it('batches of one driver apply in the order given; outcomes follow the batches', async () => {
        const store = await open();
        const batches: DriverBatch[] = [
          { driverId: 'drv-1', pings: [phasePing(0, 1, 0), phasePing(0, 2, 1)] },
          { driverId: 'drv-2', pings: [phasePing(0, 1, 5)] },
          { driverId: 'drv-1', pings: [phasePing(0, 2, 2), phasePing(0, 3, 3)] },
          { driverId: 'drv-2', pings: [] },
        ];
        const outcomes = [
          { applied: 2, duplicates: 0 }, { applied: 1, duplicates: 0 },
          { applied: 1, duplicates: 1 }, { applied: 0, duplicates: 0 },
        ];
        expect(await store.applyBatches([], NOW)).toEqual([]);
        expect(counts(await store.applyBatches(batches, NOW))).toEqual(outcomes);
        expect(await store.get('drv-1', NOW)).toMatchObject({ seq: 3, ts: phasePing(0, 3, 3).ts });
        // A retry of the whole call (outcome unknown to the caller) applies nothing.
        expect(counts(await store.applyBatches(batches, NOW))).toEqual(batches.map((b) => ({ applied: 0, duplicates: b.pings.length })));
      });
    });

    describe('position by ts, sticky status', () => {
      // Seven places 900 m apart: each in its own cell at resolution 9.
      const [A, B, C, D, E, F, G] = [berlin(0), berlin(900), berlin(1_800), berlin(2_700), berlin(3_600), berlin(4_500), berlin(5_400)] as const;
      const t0 = NOW - 20_000;
      /** Each step is one batch; `at`, `ts`, `seq` and `status` are what get() must show after it. */
      const steps: { name: string; pings: Ping[]; at: [number, number]; ts: number; seq: number; status: StoredStatus }[] = [
        { name: 'first fix, no status yet', pings: [ping(1, A, t0)], at: A, ts: t0, seq: 1, status: 'unknown' },
        { name: 'status arrives', pings: [ping(2, A, t0 + 10, 'available')], at: A, ts: t0 + 10, seq: 2, status: 'available' },
        { name: 'older ts: position kept, seq advances', pings: [ping(3, B, t0 - 1_000)], at: A, ts: t0 + 10, seq: 3, status: 'available' },
        { name: 'newer ts without status: moves, status kept', pings: [ping(4, C, t0 + 1_000)], at: C, ts: t0 + 1_000, seq: 4, status: 'available' },
        { name: 'status-only change with an older ts', pings: [ping(5, D, t0 - 5_000, 'busy')], at: C, ts: t0 + 1_000, seq: 5, status: 'busy' },
        { name: 'an equal ts is not older: it moves', pings: [ping(6, E, t0 + 1_000)], at: E, ts: t0 + 1_000, seq: 6, status: 'busy' },
        { name: 'in one batch the newest ts wins, the last status sticks', pings: [ping(7, F, t0 + 3_000, 'offline'), ping(8, G, t0 + 2_000, 'available'), ping(9, A, t0 + 2_500)], at: F, ts: t0 + 3_000, seq: 9, status: 'available' },
      ];
      it('follows every step, in the record and in the index', async () => {
        const store = await open();
        for (const step of steps) {
          await store.applyBatches([{ driverId: 'drv-1', pings: step.pings }], NOW);
          const rec = await store.get('drv-1', NOW);
          expect(rec, step.name).toMatchObject({
            lat: quantize(step.at[0]), lng: quantize(step.at[1]), ts: step.ts, seq: step.seq, status: step.status, indexed: true,
          });
          expect(await idsNear(store, step.at, 50, { status: step.status }), step.name).toEqual(['drv-1']);
          const other: StoredStatus = step.status === 'busy' ? 'available' : 'busy';
          expect(await idsNear(store, step.at, 50, { status: other }), step.name).toEqual([]);
        }
      });
    });

    describe('moving across cells', () => {
      const cases: { name: string; from: [number, number]; to: [number, number][] }[] = [
        { name: 'within its cell', from: berlin(0), to: [berlin(3, 2)] },
        { name: 'to a neighbouring cell', from: berlin(0), to: [berlin(600)] },
        { name: 'through several cells in one batch', from: berlin(0), to: [berlin(400), berlin(800, 300), berlin(1_200, 900), berlin(1_500, 1_500)] },
        { name: 'across the city', from: berlin(-9_000, -4_000), to: [berlin(11_000, 8_000)] },
        { name: 'across the antimeridian', from: [65, 179.9995], to: [[65, -179.9995]] },
        { name: 'to another continent', from: berlin(0), to: [[-33.86, 151.21]] },
      ];
      it.each(cases)('$name', async ({ from, to }) => {
        const store = await open();
        await store.applyBatches([{ driverId: 'drv-1', pings: [ping(1, from, NOW - 5_000)] }], NOW);
        expect(await idsNear(store, from, 10)).toEqual(['drv-1']);
        await store.applyBatches([{ driverId: 'drv-1', pings: to.map((p, i) => ping(2 + i, p, NOW - 4_000 + i)) }], NOW);
        const dest = to[to.length - 1]!;
        const moved = await store.get('drv-1', NOW);
        expect(moved?.cell).toBe(latLngToCell(quantize(dest[0]), quantize(dest[1]), 9));
        expect(await idsNear(store, dest, 10)).toEqual(['drv-1']);
        // Exactly one cell: around the old place it is found once if the new
        // place is within the radius, else not at all.
        const away = distanceM(quantize(from[0]), quantize(from[1]), quantize(dest[0]), quantize(dest[1]));
        for (const radiusM of [5, 30_000]) {
          expect(await idsNear(store, from, radiusM, { includeStale: true }), `radius ${radiusM}`).toEqual(away <= radiusM ? ['drv-1'] : []);
        }
        for (const p of to.slice(0, -1)) expect(await idsNear(store, p, 10, { includeStale: true })).toEqual([]);
      });
    });

    describe('vehicle', () => {
      it('is sticky: a batch without vehicle keeps it, a batch with one changes it', async () => {
        const store = await open();
        const at = berlin(0);
        await store.applyBatches([{ driverId: 'drv-1', vehicle: 'bike', pings: [ping(1, at, NOW - 3)] }], NOW);
        expect(await store.get('drv-1', NOW)).toMatchObject({ vehicle: 'bike' });
        await store.applyBatches([{ driverId: 'drv-1', pings: [ping(2, at, NOW - 2)] }], NOW);
        expect(await store.get('drv-1', NOW)).toMatchObject({ vehicle: 'bike' });
        await store.applyBatches([{ driverId: 'drv-1', vehicle: 'car', pings: [ping(3, at, NOW - 1)] }], NOW);
        expect(await store.get('drv-1', NOW)).toMatchObject({ vehicle: 'car', seq: 3 });
      });

      const filters: { vehicles: readonly ('walk' | 'bike' | 'scooter' | 'car')[] | undefined; ids: string[] }[] = [
        { vehicles: undefined, ids: ['a-bike', 'b-car', 'c-none'] },
        { vehicles: [], ids: ['a-bike', 'b-car', 'c-none'] },
        { vehicles: ['bike'], ids: ['a-bike'] },
        { vehicles: ['bike', 'car'], ids: ['a-bike', 'b-car'] },
        { vehicles: ['walk', 'scooter'], ids: [] },
      ];
      it.each(filters)('nearby filters by vehicles $vehicles', async ({ vehicles, ids }) => {
        const store = await open();
        await store.applyBatches([
          { driverId: 'a-bike', vehicle: 'bike', pings: [ping(1, berlin(10), NOW)] },
          { driverId: 'b-car', vehicle: 'car', pings: [ping(1, berlin(20), NOW)] },
          { driverId: 'c-none', pings: [ping(1, berlin(30), NOW)] },
        ], NOW);
        const found = await store.nearby(BERLIN[0], BERLIN[1], 100, { limit: 10, ...(vehicles ? { vehicles } : {}) }, NOW);
        expect(found.map((d) => d.driverId)).toEqual(ids);
      });
    });

    describe('stale drivers', () => {
      const cases = [
        { ageMs: 0, stale: false },
        { ageMs: T.staleMs - 1, stale: false },
        { ageMs: T.staleMs, stale: false },
        { ageMs: T.staleMs + 1, stale: true },
        { ageMs: T.offlineMs, stale: true },
      ];
      it.each(cases)('silent $ageMs ms → stale $stale', async ({ ageMs, stale }) => {
        const store = await open();
        const at = berlin(100, 100);
        await store.applyBatches([{ driverId: 'drv-1', pings: [ping(1, at, NOW - 60_000, 'available')] }], NOW - 60_000);
        const now = NOW - 60_000 + ageMs;
        expect(await store.get('drv-1', now)).toMatchObject({
          lat: quantize(at[0]), lng: quantize(at[1]), ts: NOW - 60_000, ageMs, stale, indexed: true,
        });
        expect(await idsNear(store, at, 100, {}, now)).toEqual(stale ? [] : ['drv-1']);
        const withStale = await store.nearby(at[0], at[1], 100, { limit: 10, includeStale: true }, now);
        expect(withStale).toEqual([{
          driverId: 'drv-1', lat: quantize(at[0]), lng: quantize(at[1]), ts: NOW - 60_000, status: 'available',
          vehicle: 'unknown', distanceM: 0, ageMs, stale,
        }]);
      });

      const filters: { options: Partial<NearbyOptions>; ids: string[] }[] = [
        { options: {}, ids: ['a-available', 'b-busy', 'c-offline', 'd-unknown'] },
        { options: { includeStale: true }, ids: ['a-available', 'b-busy', 'c-offline', 'd-unknown', 'e-available-stale'] },
        { options: { status: 'available' }, ids: ['a-available'] },
        { options: { status: 'available', includeStale: true }, ids: ['a-available', 'e-available-stale'] },
        { options: { status: 'busy' }, ids: ['b-busy'] },
        { options: { status: 'offline' }, ids: ['c-offline'] },
        { options: { status: 'unknown' }, ids: ['d-unknown'] },
        { options: { limit: 2 }, ids: ['a-available', 'b-busy'] },
      ];
      it.each(filters)('filter $options', async ({ options, ids }) => {
        const store = await open();
        const fresh = NOW - 1_000;
        const drivers: [string, DriverStatus | undefined, number][] = [
          ['a-available', 'available', fresh], ['b-busy', 'busy', fresh], ['c-offline', 'offline', fresh],
          ['d-unknown', undefined, fresh], ['e-available-stale', 'available', NOW - T.staleMs - 1],
        ];
        // All on one spot: equal distances, so the order is by driverId.
        await store.applyBatches(drivers.map(([id, status, ts]) => ({ driverId: id, pings: [ping(1, BERLIN, ts, status)] })), NOW);
        expect(await idsNear(store, berlin(30), 100, options)).toEqual(ids);
      });
    });

    describe('sweep', () => {
      const cases = [
        { id: 'a-fresh', ageMs: 0, after: 'indexed' },
        { id: 'b-stale', ageMs: 40_000, after: 'indexed' },
        { id: 'c-at-offline', ageMs: T.offlineMs, after: 'indexed' },
        { id: 'd-past-offline', ageMs: T.offlineMs + 1, after: 'unindexed' },
        { id: 'e-at-retention', ageMs: T.retentionMs, after: 'unindexed' },
        { id: 'f-past-retention', ageMs: T.retentionMs + 1, after: 'removed' },
      ] as const;
      const at = (i: number): [number, number] => berlin(i * 50);

      it('unindexes silent drivers, forgets expired ones, is idempotent, and a new ping re-indexes', async () => {
        const store = await open();
        await store.applyBatches(cases.map((c, i) => ({ driverId: c.id, pings: [ping(1, at(i), NOW - c.ageMs, 'available')] })), NOW);
        const expectState = async (): Promise<void> => {
          for (const [i, c] of cases.entries()) {
            const rec = await store.get(c.id, NOW);
            if (c.after === 'removed') expect(rec, c.id).toBeNull();
            else expect(rec, c.id).toMatchObject({ lat: quantize(at(i)[0]), ageMs: c.ageMs, stale: c.ageMs > T.staleMs, indexed: c.after === 'indexed' });
          }
          expect(await idsNear(store, at(0), 1_000, { includeStale: true })).toEqual(['a-fresh', 'b-stale', 'c-at-offline']);
        };
        expect(await store.sweep(NOW)).toEqual({ unindexed: 2, removed: 1 });
        await expectState();
        expect(await store.sweep(NOW)).toEqual({ unindexed: 0, removed: 0 });
        await expectState();

        await store.applyBatches([{ driverId: 'd-past-offline', pings: [ping(2, at(3), NOW)] }], NOW);
        expect(await store.get('d-past-offline', NOW)).toMatchObject({ indexed: true, stale: false, seq: 2, status: 'available' });
        expect(await idsNear(store, at(3), 10)).toEqual(['d-past-offline']);

        // Much later every record is past retention, indexed or not.
        expect(await store.sweep(NOW + T.retentionMs + 1)).toEqual({ unindexed: 0, removed: 5 });
        for (const c of cases) expect(await store.get(c.id, NOW)).toBeNull();
        expect(await idsNear(store, at(0), 1_000, { includeStale: true })).toEqual([]);
      });
    });

    describe('repairIndex: the index is made to agree with the records', () => {
      const [A, B] = [berlin(0), berlin(900)] as const; // 900 m apart: two cells at resolution 9
      const cellOf = (at: [number, number]): string => latLngToCell(quantize(at[0]), quantize(at[1]), 9);
      const silent = NOW - T.offlineMs - 1;
      const put = (store: DriverStore, id: string, seq: number, at: [number, number], ts = NOW): Promise<unknown> =>
        store.applyBatches([{ driverId: id, pings: [ping(seq, at, ts, 'available')] }], NOW);
      const cases: {
        name: string;
        arrange: (store: DriverStore, tamper: IndexTamper) => Promise<void>;
        found: number;
        /** After the repair: the drivers nearby() finds within 1.5 km (stale ones too; a driver twice if indexed twice). */
        nearA: string[];
        nearB: string[];
        indexed: Record<string, boolean>;
      }[] = [
        {
          name: 'an entry left behind in the cell the driver moved out of',
          arrange: async (store, tamper) => {
            await put(store, 'drv-1', 1, A);
            await put(store, 'drv-1', 2, B);
            await tamper.addEntry(cellOf(A), 'drv-1');
          },
          found: 1, nearA: ['drv-1'], nearB: ['drv-1'], indexed: { 'drv-1': true },
        },
        {
          name: 'an indexed record whose cell lacks its entry',
          arrange: async (store, tamper) => {
            await put(store, 'drv-1', 1, A);
            await tamper.removeEntry(cellOf(A), 'drv-1');
          },
          found: 1, nearA: ['drv-1'], nearB: ['drv-1'], indexed: { 'drv-1': true },
        },
        {
          name: 'in a wrong cell and missing from its own: two disagreements',
          arrange: async (store, tamper) => {
            await put(store, 'drv-1', 1, A);
            await tamper.removeEntry(cellOf(A), 'drv-1');
            await tamper.addEntry(cellOf(B), 'drv-1');
          },
          found: 2, nearA: ['drv-1'], nearB: ['drv-1'], indexed: { 'drv-1': true },
        },
        {
          name: 'an entry of a driver without a record',
          arrange: async (store, tamper) => {
            await put(store, 'drv-1', 1, A);
            await tamper.addEntry(cellOf(A), 'ghost');
          },
          found: 1, nearA: ['drv-1'], nearB: ['drv-1'], indexed: { 'drv-1': true },
        },
        {
          name: 'an entry of a driver the sweep took out of the index',
          arrange: async (store, tamper) => {
            await put(store, 'drv-1', 1, A);
            await put(store, 'drv-2', 1, A, silent);
            expect(await store.sweep(NOW)).toEqual({ unindexed: 1, removed: 0 });
            await tamper.addEntry(cellOf(A), 'drv-2');
          },
          found: 1, nearA: ['drv-1'], nearB: ['drv-1'], indexed: { 'drv-1': true, 'drv-2': false },
        },
        {
          name: 'a record missing its entry, silent past offlineMs: it leaves the index instead',
          arrange: async (store, tamper) => {
            await put(store, 'drv-1', 1, A);
            await put(store, 'drv-2', 1, B, silent);
            await tamper.removeEntry(cellOf(B), 'drv-2');
          },
          found: 1, nearA: ['drv-1'], nearB: ['drv-1'], indexed: { 'drv-1': true, 'drv-2': false },
        },
        {
          name: 'a consistent store: nothing to repair',
          arrange: async (store) => {
            await put(store, 'drv-1', 1, A);
            await put(store, 'drv-2', 1, B);
            await put(store, 'drv-3', 1, B, silent); // silent past offlineMs but not swept yet: not an index disagreement
          },
          found: 0, nearA: ['drv-1', 'drv-2', 'drv-3'], nearB: ['drv-2', 'drv-3', 'drv-1'], indexed: { 'drv-1': true, 'drv-2': true, 'drv-3': true },
        },
      ];
      it.each(cases)('$name', async ({ arrange, found, nearA, nearB, indexed }) => {
        const store = await open();
        await arrange(store, tampers.get(store)!);
        expect(await store.repairIndex(NOW)).toEqual({ found, fixed: found });
        expect(await idsNear(store, A, 1_500, { includeStale: true })).toEqual(nearA);
        expect(await idsNear(store, B, 1_500, { includeStale: true })).toEqual(nearB);
        for (const [id, want] of Object.entries(indexed)) expect((await store.get(id, NOW))?.indexed, id).toBe(want);
        expect(await store.repairIndex(NOW)).toEqual({ found: 0, fixed: 0 });
      });

      it('a busy, consistent city has nothing to repair (and the ids of every printable character find their records)', async () => {
        const store = await open();
        const ds = cityDataSet(31_337, 1_000, NOW);
        const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
        const drivers = ds.drivers.map((d, i) => ({ ...d, driverId: i < 94 ? `${printable.slice(i)}${printable.slice(0, i)}`.slice(0, 1 + (i % 94)) : d.driverId }));
        await applyDrivers(store, drivers, NOW);
        expect(await store.repairIndex(NOW)).toEqual({ found: 0, fixed: 0 });
      });
    });

    describe('nearby is exact (checked against brute force)', () => {
      async function expectExact(store: DriverStore, ds: DataSet, rows: readonly NearbyRow[]): Promise<void> {
        const byId = new Map(ds.drivers.map((d) => [d.driverId, d]));
        for (const row of rows) {
          for (const [lat, lng] of ds.queries) {
            const what = `query (${lat}, ${lng}) radius ${row.radiusM} ${JSON.stringify(row.options)}`;
            const got = await store.nearby(lat, lng, row.radiusM, row.options, NOW);
            const want = bruteForceNearby(ds.drivers, lat, lng, row, NOW, T.staleMs);
            expect(got.map((d) => d.driverId), what).toEqual(want.map((d) => d.driverId));
            got.forEach((d, i) => {
              expect(Math.abs(d.distanceM - want[i]!.distanceM), `${what} ${d.driverId}`).toBeLessThanOrEqual(0.1);
              expect(d.distanceM, what).toBeLessThanOrEqual(row.radiusM + 0.05);
              const placed = byId.get(d.driverId)!;
              expect(d, what).toMatchObject({ lat: quantize(placed.lat), lng: quantize(placed.lng), ts: placed.ts, status: placed.status });
            });
            expect(got.length, what).toBeLessThanOrEqual(row.options.limit);
          }
        }
      }

      const cityRows = [
        { resolution: 9, radiusM: 200, options: { limit: 5 } },
        { resolution: 9, radiusM: 1_000, options: { limit: 10 } },
        { resolution: 9, radiusM: 1_000, options: { limit: 1_000 } },
        { resolution: 9, radiusM: 5_000, options: { limit: 3 } },
        { resolution: 9, radiusM: 5_000, options: { limit: 5_000, includeStale: true } },
        { resolution: 9, radiusM: 2_500, options: { limit: 20, status: 'available' } },
        { resolution: 7, radiusM: 200, options: { limit: 5 } },
        { resolution: 7, radiusM: 1_000, options: { limit: 1_000 } },
        { resolution: 7, radiusM: 5_000, options: { limit: 3 } },
        { resolution: 7, radiusM: 5_000, options: { limit: 5_000, includeStale: true } },
        { resolution: 7, radiusM: 2_500, options: { limit: 50, includeStale: true, status: 'busy' } },
      ] as const;
      it.each(cityRows)('random city, res $resolution, radius $radiusM m, $options', async (row) => {
        const store = await open(row.resolution);
        const ds = cityDataSet(20_250_101 + row.radiusM, 2_000, NOW);
        await applyDrivers(store, ds.drivers, NOW);
        await expectExact(store, ds, [row]);
      });

      const clusterRows: NearbyRow[] = [
        { radiusM: 150, options: { limit: 3 } },
        { radiusM: 1_500, options: { limit: 10, includeStale: true } },
        { radiusM: 5_000, options: { limit: 1_000, includeStale: true } },
      ];
      const places = [
        { name: 'across the antimeridian (lat 65)', resolution: 9, center: [65, 180], spreadM: 6_000 },
        { name: 'across the antimeridian (equator)', resolution: 9, center: [-0.2, -180], spreadM: 6_000 },
        { name: 'north pole (lat > 89.5)', resolution: 9, center: [90, 0], spreadM: 6_000 },
        { name: 'south pole (lat < -89.5)', resolution: 9, center: [-89.97, 120], spreadM: 6_000 },
        { name: 'around a pentagon (res 9)', resolution: 9, center: pentagonCenter(9, 4), spreadM: 3_000 },
        { name: 'around another pentagon (res 9)', resolution: 9, center: pentagonCenter(9, 10), spreadM: 3_000 },
        { name: 'around a pentagon (res 7)', resolution: 7, center: pentagonCenter(7, 2), spreadM: 8_000 },
      ] as const;
      it.each(places)('$name', async ({ resolution, center, spreadM }) => {
        const store = await open(resolution);
        const ds = clusterDataSet(77 + Math.round(center[0] * 1000), 600, NOW, [center[0], center[1]], spreadM);
        await applyDrivers(store, ds.drivers, NOW);
        await expectExact(store, ds, clusterRows);
      });

      it.each([9, 7])('drivers hugging a cell boundary, queried from the neighbours (res %i)', async (resolution) => {
        const store = await open(resolution);
        const ds = cellEdgeDataSet(4242, NOW, resolution);
        await applyDrivers(store, ds.drivers, NOW);
        const edgeM = resolution === 9 ? 200 : 1_400;
        await expectExact(store, ds, [
          { radiusM: 1, options: { limit: 10, includeStale: true } },
          { radiusM: 5, options: { limit: 1 } },
          { radiusM: edgeM / 4, options: { limit: 3, includeStale: true } },
          { radiusM: edgeM, options: { limit: 1_000, includeStale: true } },
          { radiusM: 2 * edgeM, options: { limit: 25 } },
        ]);
      });
    });
  });
}
