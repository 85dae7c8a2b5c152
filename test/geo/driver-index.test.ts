import { latLngToCell, polygonToCells } from 'h3-js';
import { describe, expect, it } from 'vitest';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import type { StoredVehicle, VehicleType } from '../../src/domain/vehicle.js';
import { DriverIndex, type IndexEntry } from '../../src/geo/driver-index.js';
import type { DriverBatch, DriverStore, NearbyOptions, StoredStatus } from '../../src/geo/driver-store.js';
import { quantize } from '../../src/geo/geodesy.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { destination, seededRandom } from './geo-fixtures.js';
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

/**
 * What DriverIndex guarantees on its own, without a store around it: the
 * store's rules per driver (exactly once by seq, monotonic position by ts,
 * sticky status and vehicle), unindex and remove, exact nearby against brute
 * force, a follower fed out of order converging on the store, and memory that
 * does not grow with moves. The store's contract suite runs on it too, through
 * MemoryDriverStore.
 */

const NOW = 1_750_000_000_000;
const STALE_MS = 30_000;
const BERLIN: [number, number] = [52.52, 13.405];

function berlin(northM: number, eastM = 0): [number, number] {
  const [lat, lng] = destination(BERLIN[0], BERLIN[1], 0, northM);
  return destination(lat, lng, 90, eastM);
}

function entry(seq: number, [lat, lng]: [number, number], ts: number, more: Partial<IndexEntry> = {}): IndexEntry {
  return { driverId: 'drv-1', seq, lat, lng, ts, ...more };
}

function near(index: DriverIndex, at: [number, number], radiusM: number, options: Partial<NearbyOptions> = {}, now = NOW): string[] {
  return index.nearby(at[0], at[1], radiusM, { limit: 1000, ...options }, now, STALE_MS).map((d) => d.driverId);
}

describe('DriverIndex', () => {
  describe('apply: the store rules, entry by entry', () => {
    const [A, B, C] = [berlin(0), berlin(900), berlin(1_800)] as const; // three cells at resolution 9
    const t0 = NOW - 20_000;
    /** Each step is one apply; `applied` is its return, the rest what get() shows after it. */
    const steps: { name: string; e: IndexEntry; applied: boolean; at: [number, number]; ts: number; seq: number; status: StoredStatus; vehicle: StoredVehicle; spd?: number }[] = [
      { name: 'first entry: status and vehicle unknown', e: entry(5, A, t0), applied: true, at: A, ts: t0, seq: 5, status: 'unknown', vehicle: 'unknown' },
      { name: 'an equal seq is ignored', e: entry(5, B, t0 + 10, { status: 'busy' }), applied: false, at: A, ts: t0, seq: 5, status: 'unknown', vehicle: 'unknown' },
      { name: 'a lower seq is ignored', e: entry(2, B, t0 + 20, { status: 'busy' }), applied: false, at: A, ts: t0, seq: 5, status: 'unknown', vehicle: 'unknown' },
      { name: 'status, vehicle and speed arrive', e: entry(6, A, t0 + 10, { status: 'available', vehicle: 'bike', spd: 4.256 }), applied: true, at: A, ts: t0 + 10, seq: 6, status: 'available', vehicle: 'bike', spd: 4.26 },
      { name: 'older ts: seq and status advance, position (and its speed) stays', e: entry(7, B, t0 - 1_000, { status: 'busy', spd: 9 }), applied: true, at: A, ts: t0 + 10, seq: 7, status: 'busy', vehicle: 'bike', spd: 4.26 },
      { name: 'newer ts without status or vehicle: moves, both kept, speed cleared', e: entry(8, C, t0 + 1_000), applied: true, at: C, ts: t0 + 1_000, seq: 8, status: 'busy', vehicle: 'bike' },
      { name: 'an equal ts is not older: it moves', e: entry(9, B, t0 + 1_000, { vehicle: 'car' }), applied: true, at: B, ts: t0 + 1_000, seq: 9, status: 'busy', vehicle: 'car' },
      { name: 'gaps in seq are fine', e: entry(100, B, t0 + 1_001, { status: 'available' }), applied: true, at: B, ts: t0 + 1_001, seq: 100, status: 'available', vehicle: 'car' },
    ];
    it('follows every step, in the record and in nearby()', () => {
      const index = new DriverIndex(9);
      for (const step of steps) {
        expect(index.apply(step.e), step.name).toBe(step.applied);
        const lat = quantize(step.at[0]);
        const lng = quantize(step.at[1]);
        expect(index.get('drv-1'), step.name).toEqual({
          driverId: 'drv-1', lat, lng, ts: step.ts, seq: step.seq, status: step.status, vehicle: step.vehicle,
          cell: latLngToCell(lat, lng, 9), indexed: true, ...(step.spd === undefined ? {} : { spd: step.spd }),
        });
        expect(index.seqOf('drv-1'), step.name).toBe(step.seq);
        expect(near(index, step.at, 50, { status: step.status }), step.name).toEqual(['drv-1']);
        expect(near(index, step.at, 50, { vehicles: [step.vehicle === 'car' ? 'bike' : 'car'] }), step.name).toEqual([]);
        // Exactly one cell: the other places see nothing within 50 m.
        for (const other of [A, B, C].filter((p) => p !== step.at)) expect(near(index, other, 50), step.name).toEqual([]);
      }
      expect(index.size).toBe(1);
    });

    it('takes the cell from the entry when given, and rounds coordinates as the stores do', () => {
      const index = new DriverIndex(9);
      const [lat, lng] = [52.520006612345, 13.404953987654];
      index.apply({ driverId: 'd', seq: 1, lat, lng, ts: NOW, cell: latLngToCell(quantize(lat), quantize(lng), 9) });
      expect(index.get('d')).toMatchObject({ lat: quantize(lat), lng: quantize(lng), cell: latLngToCell(quantize(lat), quantize(lng), 9) });
    });
  });

  describe('unindex and remove', () => {
    it('unindex: out of nearby, record and seq kept; a late entry cannot bring it back, a newer position does', () => {
      const index = new DriverIndex(9);
      index.apply(entry(3, berlin(0), NOW - 5_000, { status: 'available' }));
      expect(index.unindex('drv-1')).toBe(true);
      expect(index.unindex('drv-1')).toBe(false);
      expect(index.get('drv-1')).toMatchObject({ seq: 3, indexed: false, status: 'available' });
      expect(near(index, berlin(0), 100, { includeStale: true })).toEqual([]);
      // A duplicate (seq 3) and a status-only change with an older fix leave it out, as in the store.
      expect(index.apply(entry(3, berlin(0), NOW))).toBe(false);
      expect(index.apply(entry(4, berlin(10), NOW - 6_000, { status: 'busy' }))).toBe(true);
      expect(index.get('drv-1')).toMatchObject({ seq: 4, indexed: false, status: 'busy', ts: NOW - 5_000 });
      expect(near(index, berlin(0), 100, { includeStale: true })).toEqual([]);
      // A newer position puts it back, in its new cell.
      expect(index.apply(entry(5, berlin(500), NOW))).toBe(true);
      expect(index.get('drv-1')).toMatchObject({ seq: 5, indexed: true, status: 'busy' });
      expect(near(index, berlin(500), 10)).toEqual(['drv-1']);
      expect(near(index, berlin(0), 100, { includeStale: true })).toEqual([]);
    });

    it('remove: forgets the driver, seq included', () => {
      const index = new DriverIndex(9);
      index.apply(entry(9, berlin(0), NOW));
      expect(index.remove('drv-1')).toBe(true);
      expect(index.remove('drv-1')).toBe(false);
      expect(index.get('drv-1')).toBeUndefined();
      expect(index.size).toBe(0);
      expect(near(index, berlin(0), 100)).toEqual([]);
      expect(index.apply(entry(1, berlin(0), NOW))).toBe(true);
      expect(index.get('drv-1')).toMatchObject({ seq: 1, indexed: true });
    });

    it('unknown drivers: nothing to do', () => {
      const index = new DriverIndex(9);
      expect([index.unindex('x'), index.remove('x'), index.get('x'), index.seqOf('x')]).toEqual([false, false, undefined, undefined]);
    });

    it('sweep: unindexes past offlineMs, forgets past retentionMs', () => {
      const index = new DriverIndex(9);
      const ages = { fresh: 0, offline: 61_000, expired: 3_600_001 };
      for (const [id, age] of Object.entries(ages)) index.apply({ driverId: id, seq: 1, lat: BERLIN[0], lng: BERLIN[1], ts: NOW - age });
      expect(index.sweep(NOW, 60_000, 3_600_000)).toEqual({ unindexed: 1, removed: 1 });
      expect(index.sweep(NOW, 60_000, 3_600_000)).toEqual({ unindexed: 0, removed: 0 });
      expect(near(index, BERLIN, 10, { includeStale: true })).toEqual(['fresh']);
      expect([index.get('offline')?.indexed, index.get('expired')]).toEqual([false, undefined]);
      expect(index.repair(NOW, 60_000)).toEqual({ found: 0, fixed: 0 });
    });
  });

  describe('nearby is exact (checked against brute force)', () => {
    const VEHICLES: StoredVehicle[] = ['unknown', 'walk', 'bike', 'scooter', 'car'];
    /** The data set's drivers with a vehicle each (seeded), applied one entry per driver. */
    function load(index: DriverIndex, ds: DataSet, seed: number): Map<string, StoredVehicle> {
      const rand = seededRandom(seed);
      const vehicles = new Map<string, StoredVehicle>();
      for (const d of ds.drivers) {
        const vehicle = VEHICLES[Math.floor(rand() * VEHICLES.length)]!;
        vehicles.set(d.driverId, vehicle);
        index.apply({ driverId: d.driverId, seq: 1, lat: d.lat, lng: d.lng, ts: d.ts, status: d.status, vehicle });
      }
      return vehicles;
    }
    function expectExact(index: DriverIndex, ds: DataSet, vehicles: Map<string, StoredVehicle>, rows: readonly (NearbyRow & { vehicles?: VehicleType[] })[]): void {
      for (const row of rows) {
        const options: NearbyOptions = row.vehicles ? { ...row.options, vehicles: row.vehicles } : row.options;
        const pool: PlacedDriver[] = row.vehicles?.length ? ds.drivers.filter((d) => (row.vehicles as string[]).includes(vehicles.get(d.driverId)!)) : ds.drivers;
        for (const [lat, lng] of ds.queries) {
          const what = `query (${lat}, ${lng}) radius ${row.radiusM} ${JSON.stringify(options)}`;
          const got = index.nearby(lat, lng, row.radiusM, options, NOW, STALE_MS);
          const want = bruteForceNearby(pool, lat, lng, row, NOW, STALE_MS);
          expect(got.map((d) => d.driverId), what).toEqual(want.map((d) => d.driverId));
          got.forEach((d, i) => expect(Math.abs(d.distanceM - want[i]!.distanceM), what).toBeLessThanOrEqual(0.1));
        }
      }
    }
    const rows: (NearbyRow & { vehicles?: VehicleType[] })[] = [
      { radiusM: 1, options: { limit: 10, includeStale: true } },
      { radiusM: 200, options: { limit: 5 } },
      { radiusM: 1_000, options: { limit: 10 } },
      { radiusM: 1_500, options: { limit: 1_000, includeStale: true } },
      { radiusM: 2_000, options: { limit: Number.MAX_SAFE_INTEGER, includeStale: true } },
      { radiusM: 3_000, options: { limit: 10, status: 'available' } },
      { radiusM: 5_000, options: { limit: 3, includeStale: true }, vehicles: ['bike', 'car'] },
      { radiusM: 2_500, options: { limit: 20 }, vehicles: [] },
      { radiusM: 800, options: { limit: 0 } },
    ];
    const cases: { name: string; resolution: number; ds: () => DataSet }[] = [
      { name: 'a random city (res 9)', resolution: 9, ds: () => cityDataSet(404, 2_000, NOW) },
      { name: 'a random city (res 7)', resolution: 7, ds: () => cityDataSet(405, 2_000, NOW) },
      { name: 'across the antimeridian', resolution: 9, ds: () => clusterDataSet(406, 600, NOW, [64.9, 180], 6_000) },
      { name: 'north pole', resolution: 9, ds: () => clusterDataSet(407, 600, NOW, [90, 0], 6_000) },
      { name: 'south pole', resolution: 9, ds: () => clusterDataSet(408, 600, NOW, [-89.97, -60], 6_000) },
      { name: 'around a pentagon (res 8)', resolution: 8, ds: () => clusterDataSet(409, 600, NOW, pentagonCenter(8, 7), 4_000) },
      { name: 'drivers hugging a cell boundary (res 9)', resolution: 9, ds: () => cellEdgeDataSet(410, NOW, 9) },
    ];
    it.each(cases)('$name', ({ resolution, ds: make }) => {
      const index = new DriverIndex(resolution);
      const ds = make();
      const vehicles = load(index, ds, 7);
      expectExact(index, ds, vehicles, rows);
    });

    it('stays exact with a ring cache too small for one search (origins evicted while searching elsewhere)', () => {
      const index = new DriverIndex(9, { ringCacheCells: 40 });
      const ds = cityDataSet(411, 2_000, NOW);
      const vehicles = load(index, ds, 8);
      expectExact(index, ds, vehicles, rows);
      expectExact(index, ds, vehicles, rows);
      // Evicted origins gave their cell ids back: what is left is the occupied cells and a few cached rings.
      const occupied = new Set(ds.drivers.map((d) => latLngToCell(quantize(d.lat), quantize(d.lng), 9))).size;
      expect(index.stats().cells).toBeLessThan(occupied + 2_000);
      index.clear();
      expect(index.stats()).toMatchObject({ drivers: 0, cells: 0, origins: 0 });
    });
  });

  it('a follower fed with the store\'s records after each write, late, repeated and out of order, holds what the store holds', async () => {
    const store: DriverStore = new MemoryDriverStore(new RingPlanner(9), { staleMs: STALE_MS, offlineMs: 3_600_000, retentionMs: 86_400_000 });
    const follower = new DriverIndex(9);
    const rand = seededRandom(412);
    const ids = Array.from({ length: 200 }, (_, i) => `drv-${i}`);
    const seqs = new Map<string, number>();
    const feed: IndexEntry[] = [];
    for (let round = 0; round < 30; round++) {
      const batches: DriverBatch[] = ids.filter(() => rand() < 0.5).map((driverId) => {
        const pings = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
          const seq = (seqs.get(driverId) ?? 0) + 1 + Math.floor(rand() * 2);
          seqs.set(driverId, seq);
          // Some fixes older than the stored one (the store keeps the position), most newer.
          const ts = NOW - 60_000 + round * 1_000 + Math.floor(rand() * 1_500) - 300;
          const status = rand() < 0.3 ? (['available', 'busy', 'offline'] as const)[Math.floor(rand() * 3)] : undefined;
          const [lat, lng] = berlin((rand() - 0.5) * 8_000, (rand() - 0.5) * 8_000);
          return status ? { seq, lat, lng, ts, status } : { seq, lat, lng, ts };
        });
        return rand() < 0.2 ? { driverId, pings, vehicle: 'scooter' as const } : { driverId, pings };
      });
      await store.applyBatches(batches, NOW);
      for (const b of batches) {
        const rec = (await store.get(b.driverId, NOW))!;
        feed.push({ driverId: rec.driverId, seq: rec.seq, lat: rec.lat, lng: rec.lng, ts: rec.ts, status: rec.status, vehicle: rec.vehicle, cell: rec.cell });
      }
    }
    // Delivered shuffled, and a fifth of it twice.
    const delivery = [...feed, ...feed.filter(() => rand() < 0.2)];
    for (let i = delivery.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [delivery[i], delivery[j]] = [delivery[j]!, delivery[i]!];
    }
    for (const e of delivery) follower.apply(e);
    for (const id of ids) {
      const want = await store.get(id, NOW);
      const got = follower.get(id);
      expect(got && { ...got, acc: undefined, spd: undefined, hdg: undefined }, id).toEqual(want && { ...want, ageMs: undefined, stale: undefined, acc: undefined, spd: undefined, hdg: undefined });
    }
    for (let q = 0; q < 50; q++) {
      const at = berlin((rand() - 0.5) * 8_000, (rand() - 0.5) * 8_000);
      const options: NearbyOptions = { limit: 1 + Math.floor(rand() * 20), includeStale: rand() < 0.5, ...(rand() < 0.3 ? { status: 'available' as const } : {}) };
      expect(follower.nearby(at[0], at[1], 2_000, options, NOW, STALE_MS)).toEqual(await store.nearby(at[0], at[1], 2_000, options, NOW));
    }
    await store.close();
  });

  it('memory does not grow with moves: slots, list blocks and cell ids are reused', () => {
    const index = new DriverIndex(9);
    const rand = seededRandom(413);
    const place = (): [number, number] => berlin((rand() - 0.5) * 10_000, (rand() - 0.5) * 10_000);
    const seq = new Map<string, number>();
    const move = (id: string, ts: number): void => {
      const [lat, lng] = place();
      const s = (seq.get(id) ?? 0) + 1;
      seq.set(id, s);
      index.apply({ driverId: id, seq: s, lat, lng, ts });
    };
    for (let i = 0; i < 2_000; i++) move(`drv-${i}`, NOW);
    for (let i = 0; i < 200; i++) index.nearby(...place(), 1_000, { limit: 10 }, NOW, STALE_MS);
    const settled = index.stats();
    for (let round = 1; round <= 50; round++) {
      for (let i = 0; i < 2_000; i++) move(`drv-${i}`, NOW + round);
      // A tenth of the fleet leaves and as many new drivers arrive.
      for (let i = 0; i < 200; i++) index.remove(`drv-${(round * 200 + i) % 2_000}`);
      for (let i = 0; i < 200; i++) {
        const id = `drv-${(round * 200 + i) % 2_000}`;
        seq.delete(id);
        move(id, NOW + round);
      }
      for (let i = 0; i < 200; i++) index.nearby(...place(), 1_000, { limit: 10 }, NOW, STALE_MS);
    }
    const after = index.stats();
    expect(after.drivers).toBe(2_000);
    expect(after.slotCapacity).toBe(settled.slotCapacity);
    // Blocks move between size classes as cells fill and empty: allow one doubling, never more.
    expect(after.entryCapacity).toBeLessThanOrEqual(2 * settled.entryCapacity);
    // Cell ids: the cells of the area the drivers and queries use (cached rings reach ~1 km beyond it), never one per move.
    const [sw, ne] = [berlin(-7_000, -7_000), berlin(7_000, 7_000)];
    const area = polygonToCells([[sw[0], sw[1]], [sw[0], ne[1]], [ne[0], ne[1]], [ne[0], sw[1]]], 9).length;
    expect(after.cells).toBeLessThanOrEqual(area);
    expect(index.repair(NOW, 3_600_000)).toEqual({ found: 0, fixed: 0 });
  });
});
