import {
  type ApplyOutcome,
  type DriverBatch,
  type DriverRecord,
  type DriverStore,
  type DriverView,
  type NearbyDriver,
  type NearbyOptions,
  type Ping,
  type RepairOutcome,
  type StoredStatus,
  type StoreTiming,
  type SweepOutcome,
  viewOf,
} from '../../geo/driver-store.js';
import { DriverIndex } from '../../geo/driver-index.js';
import type { RingPlanner } from '../../geo/ring-planner.js';

/**
 * The embedded store: one process, no persistence. Everything happens
 * synchronously inside one call, so each batch is trivially atomic.
 * Used when REDIS_URL is unset, and as the reference the Redis store is
 * checked against.
 *
 * Records and the cell index are one {@link DriverIndex}: a batch is reduced
 * to the driver's state after it (last applied seq, last status, newest
 * position) and applied there, under the same rules as here.
 */
/** Records per page of scan(). */
const SCAN_PAGE = 1000;

export class MemoryDriverStore implements DriverStore {
  readonly kind = 'memory' as const;
  private readonly index: DriverIndex;

  /** `planner`: only its resolution is used (the index caches its own rings). */
  constructor(
    planner: RingPlanner,
    private readonly timing: StoreTiming,
  ) {
    this.index = new DriverIndex(planner.resolution);
  }

  async applyBatches(batches: DriverBatch[]): Promise<ApplyOutcome[]> {
    return batches.map((b) => this.applyOne(b));
  }

  private applyOne({ driverId, pings, vehicle }: DriverBatch): ApplyOutcome {
    let seq = this.index.seqOf(driverId) ?? -1;
    let status: StoredStatus | undefined;
    // The ping that can become the position: the newest ts, the last of equals (as ping by ping would).
    let newest: Ping | undefined;
    let applied = 0;
    for (const p of pings) {
      if (p.seq <= seq) continue;
      applied++;
      seq = p.seq;
      if (p.status) status = p.status;
      if (!newest || p.ts >= newest.ts) newest = p;
    }
    if (applied === 0 || !newest) return { applied, duplicates: pings.length };
    this.index.apply({
      driverId, seq, lat: newest.lat, lng: newest.lng, ts: newest.ts, status, vehicle,
      acc: newest.acc, spd: newest.spd, hdg: newest.hdg,
    });
    const record = this.index.get(driverId);
    return record ? { applied, duplicates: pings.length - applied, record } : { applied, duplicates: pings.length - applied };
  }

  async scan(onPage: (records: DriverRecord[]) => void): Promise<void> {
    let page: DriverRecord[] = [];
    for (const id of [...this.index.driverIds()]) {
      const r = this.index.get(id);
      if (r) page.push(r);
      if (page.length === SCAN_PAGE) {
        onPage(page);
        page = [];
      }
    }
    if (page.length > 0) onPage(page);
  }

  /** The record, synchronously (for the memory order store's reservation check). */
  peek(driverId: string): Readonly<DriverRecord> | undefined {
    return this.index.get(driverId);
  }

  async get(driverId: string, now: number): Promise<DriverView | null> {
    const rec = this.index.get(driverId);
    return rec ? viewOf(rec, now, this.timing.staleMs) : null;
  }

  /** The answer at once: everything is in this process (the HTTP route answers inside its handler). */
  nearbyNow(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): NearbyDriver[] {
    return this.index.nearby(lat, lng, radiusM, options, now, this.timing.staleMs);
  }

  async nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]> {
    return this.nearbyNow(lat, lng, radiusM, options, now);
  }

  async sweep(now: number): Promise<SweepOutcome> {
    return this.index.sweep(now, this.timing.offlineMs, this.timing.retentionMs);
  }

  /** One synchronous pass (DriverIndex.repair), so nothing can change in between. */
  async repairIndex(now: number): Promise<RepairOutcome> {
    return this.index.repair(now, this.timing.offlineMs);
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    this.index.clear();
  }

  /** Drivers with a record (for tests and the heap benchmark). */
  get size(): number {
    return this.index.size;
  }
}
