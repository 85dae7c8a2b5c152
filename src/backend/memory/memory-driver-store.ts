import {
  type ApplyOutcome,
  type DriverBatch,
  type DriverRecord,
  type DriverStore,
  type DriverView,
  type NearbyDriver,
  type NearbyOptions,
  type RepairOutcome,
  type StoreTiming,
  type SweepOutcome,
  viewOf,
} from '../../geo/driver-store.js';
import { quantize, quantizeMetric } from '../../geo/geodesy.js';
import { type CellEntry, nearbyQuery, runNearby, scanSlice } from '../../geo/nearby-search.js';
import type { RingPlanner } from '../../geo/ring-planner.js';

/**
 * The embedded store: one process, no persistence. Everything happens
 * synchronously inside one call, so each batch is trivially atomic.
 * Used when REDIS_URL is unset, and as the reference the Redis store is
 * checked against.
 */
export class MemoryDriverStore implements DriverStore {
  readonly kind = 'memory' as const;
  private readonly records = new Map<string, DriverRecord>();
  /** cell → drivers indexed in it. */
  private readonly cells = new Map<string, Set<string>>();

  constructor(
    private readonly planner: RingPlanner,
    private readonly timing: StoreTiming,
  ) {}

  async applyBatches(batches: DriverBatch[]): Promise<ApplyOutcome[]> {
    return batches.map((b) => this.applyOne(b));
  }

  private applyOne({ driverId, pings, vehicle }: DriverBatch): ApplyOutcome {
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
    if (applied === 0) return { applied, duplicates: pings.length };

    const rec: DriverRecord = prev ?? {
      driverId, lat: 0, lng: 0, ts: 0, seq, status, vehicle: 'unknown', cell: '', indexed: false,
    };
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
    return { applied, duplicates: pings.length - applied };
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

  /** The record itself, synchronously (for the memory order store's reservation check). */
  peek(driverId: string): Readonly<DriverRecord> | undefined {
    return this.records.get(driverId);
  }

  async get(driverId: string, now: number): Promise<DriverView | null> {
    const rec = this.records.get(driverId);
    return rec ? viewOf({ ...rec }, now, this.timing.staleMs) : null;
  }

  async nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]> {
    const q = nearbyQuery(lat, lng, radiusM, options, now, this.timing.staleMs);
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

  async sweep(now: number): Promise<SweepOutcome> {
    let unindexed = 0;
    let removed = 0;
    for (const [id, rec] of this.records) {
      const silentMs = now - rec.ts;
      if (silentMs > this.timing.retentionMs) {
        if (rec.indexed) this.unindex(rec);
        this.records.delete(id);
        removed++;
      } else if (rec.indexed && silentMs > this.timing.offlineMs) {
        this.unindex(rec);
        unindexed++;
      }
    }
    return { unindexed, removed };
  }

  /**
   * Both directions in one synchronous pass, so nothing can change in
   * between: stray ids leave their cells, then indexed records missing from
   * their cell get back in (or out of the index when silent past offlineMs).
   */
  async repairIndex(now: number): Promise<RepairOutcome> {
    let found = 0;
    for (const [cell, ids] of this.cells) {
      for (const id of ids) {
        const rec = this.records.get(id);
        if (rec?.indexed && rec.cell === cell) continue;
        ids.delete(id);
        found++;
      }
      if (ids.size === 0) this.cells.delete(cell);
    }
    for (const rec of this.records.values()) {
      if (!rec.indexed || this.cells.get(rec.cell)?.has(rec.driverId)) continue;
      found++;
      if (now - rec.ts > this.timing.offlineMs) rec.indexed = false;
      else this.index(rec);
    }
    return { found, fixed: found };
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    this.records.clear();
    this.cells.clear();
  }

  /** Drivers with a record (for tests and the heap benchmark). */
  get size(): number {
    return this.records.size;
  }
}
