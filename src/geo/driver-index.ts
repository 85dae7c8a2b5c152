import { latLngToCell } from 'h3-js';
import type { StoredVehicle } from '../domain/vehicle.js';
import { CellLists } from './cell-lists.js';
import { DriverSlots } from './driver-slots.js';
import type { DriverRecord, NearbyDriver, NearbyOptions, RepairOutcome, StoredStatus, SweepOutcome } from './driver-store.js';
import { quantize, quantizeMetric } from './geodesy.js';
import { NearestSearch } from './nearest-search.js';
import { RingCache } from './ring-cache.js';

/**
 * What {@link DriverIndex.apply} takes: a driver's state after a store write
 * (or one ping). Optional fields behave as in the store: status and vehicle
 * are sticky when absent; acc, spd and hdg belong to the position and are
 * replaced (absent: cleared) whenever the position is.
 */
export interface IndexEntry {
  driverId: string;
  seq: number;
  lat: number;
  lng: number;
  /** Fix time of lat/lng, ms since the epoch. */
  ts: number;
  status?: StoredStatus;
  vehicle?: StoredVehicle;
  /** The H3 cell of the (rounded) position at this index's resolution, when the caller has it (saves one h3-js call). */
  cell?: string;
  acc?: number;
  spd?: number;
  hdg?: number;
}

/** What an index holds, for metrics and for tests that check nothing grows without bound. */
export interface DriverIndexStats {
  /** Drivers held, indexed or not. */
  drivers: number;
  /** Cells with an id: occupied ones and those of cached rings. */
  cells: number;
  /** Origin cells whose rings are cached. */
  origins: number;
  /** Driver slots allocated (grows by doubling; freed slots are reused). */
  slotCapacity: number;
  /** Cell-list entries the arena has room for (grows by half; freed blocks are reused). */
  entryCapacity: number;
}

export interface DriverIndexOptions {
  /** Cell references the ring cache may hold, all origins together; default 4,000,000 (16 MB when full). */
  ringCacheCells?: number;
}

/**
 * The drivers of one H3 resolution, indexed by cell, answering exact nearest
 * queries in microseconds. The memory store keeps its drivers here; a gateway
 * can keep a follower copy fed with the store's applied positions.
 *
 * Guarantees, per driver (the DriverStore rules, so that a copy fed with what
 * a store applied holds what the store holds):
 * - exactly once by seq: an entry whose seq is not above the held one is
 *   ignored, so a feed may repeat or reorder entries;
 * - monotonic position: an entry with an older ts than the held position
 *   advances seq and may change status and vehicle, but never moves the
 *   driver back in time;
 * - sticky status and vehicle: an entry without them keeps the held ones;
 * - one cell: an indexed driver is in exactly the cell of its position.
 * A driver taken out of the index (`unindex`, or `sweep` past offlineMs)
 * keeps its slot, seq and position: it is out of nearby() until an entry
 * with a newer seq and a ts at or above the held one puts it back (as the
 * store re-indexes a driver on its next ping), and a late duplicate cannot
 * bring it back. `remove` forgets the driver, seq included.
 *
 * Everything is synchronous and single-threaded; nothing is shared.
 *
 * The parts, one file each:
 *
 *   DriverSlots   one slot per driver: its record, in typed arrays
 *   CellLists     H3 cell ↔ small integer id (reference counted), and per id
 *   CellEntries     the cell's list: per indexed driver a copy of what a scan
 *                   reads (position, cos(lat), ts, status, vehicle, slot), in one arena
 *   RingCache     per origin cell: the rings around it as cell ids, and their bounds
 *   NearestSearch the search: rings out from the query's cell, the nearest kept
 *                 in a reused heap (NearestHeap), stopping on the bound
 *
 * A query makes one h3-js call (its own cell), reads a few short runs of
 * memory and allocates only its answer.
 */
export class DriverIndex {
  private readonly slots = new DriverSlots();
  private readonly bySlot = new Map<string, number>();
  private readonly cells = new CellLists();
  private readonly rings: RingCache;
  private readonly search: NearestSearch;

  constructor(
    readonly resolution: number,
    options: DriverIndexOptions = {},
  ) {
    this.rings = new RingCache(resolution, this.cells, options.ringCacheCells);
    this.search = new NearestSearch(resolution, this.rings, this.cells.entries, this.slots);
  }

  /** Drivers held (indexed or not). */
  get size(): number {
    return this.bySlot.size;
  }

  /** Counts and capacities (cheap: no walk). */
  stats(): DriverIndexStats {
    return {
      drivers: this.bySlot.size,
      cells: this.cells.size,
      origins: this.rings.size,
      slotCapacity: this.slots.capacity,
      entryCapacity: this.cells.entries.capacity,
    };
  }

  /** Applies one driver's state (rules above). Returns false when ignored (seq not above the held one). */
  apply(e: IndexEntry): boolean {
    const s = this.slots;
    let slot = this.bySlot.get(e.driverId);
    if (slot === undefined) {
      slot = s.take(e.driverId);
      this.bySlot.set(e.driverId, slot);
      s.setMeta(slot, e.status ?? 'unknown', e.vehicle ?? 'unknown');
      s.seq[slot] = e.seq;
      s.cell[slot] = -1;
      s.indexed[slot] = 0;
      this.place(slot, e);
      return true;
    }
    if (e.seq <= s.seq[slot]!) return false;
    s.seq[slot] = e.seq;
    if (e.status !== undefined || e.vehicle !== undefined) {
      const meta = s.setMeta(slot, e.status ?? s.status(slot), e.vehicle ?? s.vehicle(slot));
      if (s.indexed[slot] === 1) this.cells.entries.setMeta(s.cell[slot]!, this.entryOf(slot), meta);
    }
    if (e.ts >= s.ts[slot]!) this.place(slot, e);
    return true;
  }

  /** Every driver held, in no particular order (a live view: do not apply or remove while iterating). */
  driverIds(): IterableIterator<string> {
    return this.bySlot.keys();
  }

  /** The held seq of a driver, or undefined if unknown (a follower's gap check; no allocation). */
  seqOf(driverId: string): number | undefined {
    const slot = this.bySlot.get(driverId);
    return slot === undefined ? undefined : this.slots.seq[slot];
  }

  /** The driver's record (what a DriverStore's get() shows, without the age), or undefined. */
  get(driverId: string): DriverRecord | undefined {
    const slot = this.bySlot.get(driverId);
    if (slot === undefined) return undefined;
    const s = this.slots;
    const rec: DriverRecord = {
      driverId,
      lat: s.lat[slot]!,
      lng: s.lng[slot]!,
      ts: s.ts[slot]!,
      seq: s.seq[slot]!,
      status: s.status(slot),
      vehicle: s.vehicle(slot),
      cell: this.cells.cellOf(s.cell[slot]!),
      indexed: s.indexed[slot] === 1,
    };
    if (!Number.isNaN(s.acc[slot])) rec.acc = hundredths(s.acc[slot]!);
    if (!Number.isNaN(s.spd[slot])) rec.spd = hundredths(s.spd[slot]!);
    if (!Number.isNaN(s.hdg[slot])) rec.hdg = hundredths(s.hdg[slot]!);
    return rec;
  }

  /** Takes the driver out of nearby(), keeping its record (see above). False if unknown or already out. */
  unindex(driverId: string): boolean {
    const slot = this.bySlot.get(driverId);
    if (slot === undefined || this.slots.indexed[slot] === 0) return false;
    this.unlink(slot);
    return true;
  }

  /** Forgets the driver. False if unknown. */
  remove(driverId: string): boolean {
    const slot = this.bySlot.get(driverId);
    if (slot === undefined) return false;
    if (this.slots.indexed[slot] === 1) this.unlink(slot);
    this.cells.release(this.slots.cell[slot]!);
    this.bySlot.delete(driverId);
    this.slots.give(slot);
    return true;
  }

  /**
   * Drivers within `radiusM` metres (great-circle) of a point, nearest first,
   * ties by driver id, at most `options.limit`: exactly what
   * DriverStore.nearby() returns for the same drivers. Stale drivers (silent
   * more than `staleMs` at `now`) are left out unless `includeStale`.
   */
  nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number, staleMs: number): NearbyDriver[] {
    return this.search.nearby(lat, lng, radiusM, options, now, staleMs);
  }

  /**
   * Takes drivers silent more than offlineMs out of the index and forgets
   * drivers silent more than retentionMs, judged at `now` (DriverStore.sweep).
   */
  sweep(now: number, offlineMs: number, retentionMs: number): SweepOutcome {
    const s = this.slots;
    let unindexed = 0;
    let removed = 0;
    for (let slot = 0; slot < s.highWater; slot++) {
      const id = s.ids[slot];
      if (id === undefined) continue;
      const silentMs = now - s.ts[slot]!;
      if (silentMs > retentionMs) {
        this.remove(id);
        removed++;
      } else if (s.indexed[slot] === 1 && silentMs > offlineMs) {
        this.unlink(slot);
        unindexed++;
      }
    }
    return { unindexed, removed };
  }

  /**
   * Makes the cell lists agree with the drivers' records (DriverStore.repairIndex):
   * an entry of a free slot, of a driver out of the index or in another cell,
   * or a second entry of a driver, is removed; an indexed driver missing from
   * its cell's list is put back, or, when silent more than offlineMs at `now`,
   * leaves the index. A healthy index has nothing to repair.
   */
  repair(now: number, offlineMs: number): RepairOutcome {
    const s = this.slots;
    const entries = this.cells.entries;
    let found = 0;
    for (const id of this.cells.liveIds()) {
      for (let i = entries.length(id) - 1; i >= 0; i--) {
        const slot = entries.slotAt(id, i);
        const own = slot >= 0 && slot < s.highWater && s.ids[slot] !== undefined && s.indexed[slot] === 1 && s.cell[slot] === id;
        if (own && entries.find(id, slot) === i) continue;
        // Entries from i on are checked, so the last one moving into i is fine.
        this.cells.removeAt(id, i);
        found++;
      }
    }
    for (let slot = 0; slot < s.highWater; slot++) {
      if (s.ids[slot] === undefined || s.indexed[slot] === 0 || this.cells.has(s.cell[slot]!, slot)) continue;
      found++;
      if (now - s.ts[slot]! > offlineMs) s.indexed[slot] = 0;
      else this.putEntry(s.cell[slot]!, slot);
    }
    return { found, fixed: found };
  }

  /** Forgets every driver and every cached ring. */
  clear(): void {
    this.rings.clear();
    this.cells.clear();
    this.bySlot.clear();
    this.slots.clear();
  }

  /** Moves the slot to the entry's position (ts at or above the held one) and into its cell's list. */
  private place(slot: number, e: IndexEntry): void {
    const s = this.slots;
    const lat = quantize(e.lat);
    const lng = quantize(e.lng);
    s.lat[slot] = lat;
    s.lng[slot] = lng;
    s.ts[slot] = e.ts;
    s.acc[slot] = quantizeMetric(e.acc) ?? NaN;
    s.spd[slot] = quantizeMetric(e.spd) ?? NaN;
    s.hdg[slot] = quantizeMetric(e.hdg) ?? NaN;
    const cell = e.cell ?? latLngToCell(lat, lng, this.resolution);
    const old = s.cell[slot]!;
    if (old >= 0 && this.cells.cellOf(old) === cell) {
      if (s.indexed[slot] === 0) this.link(slot);
      else this.cells.entries.setPosition(old, this.entryOf(slot), lat, lng, e.ts);
      return;
    }
    if (s.indexed[slot] === 1) this.unlink(slot);
    s.cell[slot] = this.cells.retain(cell);
    if (old >= 0) this.cells.release(old);
    this.link(slot);
  }

  private link(slot: number): void {
    this.putEntry(this.slots.cell[slot]!, slot);
    this.slots.indexed[slot] = 1;
  }

  /** Adds an entry for `slot` (a copy of its record) to cell `id`'s list. */
  private putEntry(id: number, slot: number): void {
    const s = this.slots;
    // Slot −1 (no driver: only a test that breaks the index makes one) has nothing a search could match.
    if (slot < 0) this.cells.add(id, slot, NaN, NaN, NaN, 0);
    else this.cells.add(id, slot, s.lat[slot]!, s.lng[slot]!, s.ts[slot]!, s.meta[slot]!);
  }

  /** Position of an indexed slot's entry in its cell's list. */
  private entryOf(slot: number): number {
    return this.cells.entries.find(this.slots.cell[slot]!, slot);
  }

  private unlink(slot: number): void {
    this.cells.remove(this.slots.cell[slot]!, slot);
    this.slots.indexed[slot] = 0;
  }
}

/** A float32 back to the 0.01 step it was stored at (the value quantizeMetric gave). */
function hundredths(f: number): number {
  return Math.round(f * 100) / 100;
}
