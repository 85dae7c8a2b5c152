/**
 * The baseline of bench:nearby: MemoryDriverStore's records, cell index and
 * nearby() as they were before DriverIndex (commit 7df327a), kept here and
 * not in src/: one DriverRecord object per driver in a Map, a Map of H3 cell
 * → Set of driver ids, and the search of src/geo/nearby-search.ts
 * (RingPlanner.slices + scanSlice + runNearby), whose reference copy inside
 * Redis (nearby.lua) is still what the Redis store runs.
 */
import type { DriverBatch, DriverRecord, NearbyDriver, NearbyOptions } from '../../src/geo/driver-store.js';
import { quantize, quantizeMetric } from '../../src/geo/geodesy.js';
import { type CellEntry, nearbyQuery, runNearby, scanSlice } from '../../src/geo/nearby-search.js';
import type { RingPlanner } from '../../src/geo/ring-planner.js';

export class MapOfCellsBaseline {
  private readonly records = new Map<string, DriverRecord>();
  private readonly cells = new Map<string, Set<string>>();

  constructor(
    private readonly planner: RingPlanner,
    private readonly staleMs: number,
  ) {}

  get size(): number {
    return this.records.size;
  }

  /** The old applyOne, unchanged (the memory figure depends on what a record holds). */
  apply({ driverId, pings, vehicle }: DriverBatch): void {
    const prev = this.records.get(driverId);
    let seq = prev?.seq ?? -1;
    let status = prev?.status ?? 'unknown';
    let best = undefined as (typeof pings)[number] | undefined;
    let ts = prev?.ts ?? -Infinity;
    let applied = 0;
    for (const p of pings) {
      if (p.seq <= seq) continue;
      applied++;
      seq = p.seq;
      if (p.status) status = p.status;
      if (p.ts >= ts) {
        ts = p.ts;
        best = p;
      }
    }
    if (applied === 0) return;
    const rec: DriverRecord = prev ?? { driverId, lat: 0, lng: 0, ts: 0, seq, status, vehicle: 'unknown', cell: '', indexed: false };
    rec.seq = seq;
    rec.status = status;
    if (vehicle) rec.vehicle = vehicle;
    if (best) {
      rec.lat = quantize(best.lat);
      rec.lng = quantize(best.lng);
      rec.ts = best.ts;
      rec.acc = quantizeMetric(best.acc);
      rec.spd = quantizeMetric(best.spd);
      rec.hdg = quantizeMetric(best.hdg);
      const cell = this.planner.cellOf(rec.lat, rec.lng);
      if (rec.indexed && cell !== rec.cell) this.unindex(rec);
      rec.cell = cell;
      if (!rec.indexed) this.index(rec);
    }
    this.records.set(driverId, rec);
  }

  async nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]> {
    const q = nearbyQuery(lat, lng, radiusM, options, now, this.staleMs);
    return runNearby(this.planner, q, (slice, prior) => scanSlice(q, slice, prior, (cell) => this.entries(cell)));
  }

  private *entries(cell: string): Generator<CellEntry> {
    const ids = this.cells.get(cell);
    if (!ids) return;
    for (const id of ids) {
      const r = this.records.get(id)!;
      yield { driverId: id, lat: r.lat, lng: r.lng, ts: r.ts, status: r.status, vehicle: r.vehicle };
    }
  }

  private index(rec: DriverRecord): void {
    let set = this.cells.get(rec.cell);
    if (!set) this.cells.set(rec.cell, (set = new Set()));
    set.add(rec.driverId);
    rec.indexed = true;
  }

  private unindex(rec: DriverRecord): void {
    const set = this.cells.get(rec.cell);
    set?.delete(rec.driverId);
    if (set?.size === 0) this.cells.delete(rec.cell);
    rec.indexed = false;
  }
}
