import { type StoredVehicle, VEHICLE_CODE, VEHICLE_NAME } from '../domain/vehicle.js';
import type { StoredStatus } from './driver-store.js';

/** Status codes of a slot (two bits of `meta`). */
export const STATUS_CODE: Readonly<Record<StoredStatus, number>> = { unknown: 0, available: 1, busy: 2, offline: 3 };
export const STATUS_NAME: readonly StoredStatus[] = ['unknown', 'available', 'busy', 'offline'];

/** Slots allocated at first: enough for a test city, small enough to cost nothing idle (~100 kB). */
const INITIAL_CAPACITY = 1024;

/**
 * One slot per driver: its record, in typed arrays (struct of arrays), so a
 * million drivers cost a few dozen objects instead of a million.
 *
 *   lat, lng, ts, seq   Float64
 *   acc, spd, hdg  Float32 (NaN: absent); values of 0.01 steps, read back rounded
 *                  to 0.01, which float32 holds exactly up to ~80,000 (as in Redis)
 *   meta     Uint8      status (bits 0–1) | vehicle code << 2
 *   cell     Int32      cell id of the position (CellLists), −1: none
 *   indexed  Uint8      the record says: in the cell index
 *   ids      driver id per slot (undefined: free)
 *
 * Positions are degrees already rounded to 1e-7 (the stores' coordinates).
 * A search does not read slots: the cell lists hold a copy of what it needs
 * (CellEntries). Freed slots go on a stack and are reused first. Capacity
 * doubles when full and never shrinks (clear() starts over).
 */
export class DriverSlots {
  lat!: Float64Array;
  lng!: Float64Array;
  ts!: Float64Array;
  meta!: Uint8Array;
  seq!: Float64Array;
  acc!: Float32Array;
  spd!: Float32Array;
  hdg!: Float32Array;
  cell!: Int32Array;
  indexed!: Uint8Array;
  /** Driver id per slot; undefined for a free slot. */
  ids: (string | undefined)[] = [];
  /** Slots handed out so far (free or not): every live slot is below it. */
  highWater = 0;
  private free: number[] = [];

  constructor() {
    this.allocate(INITIAL_CAPACITY);
  }

  get capacity(): number {
    return this.meta.length;
  }

  /** A slot for `driverId` (fields are the caller's to set). */
  take(driverId: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.highWater === this.capacity) this.grow();
      slot = this.highWater++;
    }
    this.ids[slot] = driverId;
    return slot;
  }

  /** Gives a slot back. */
  give(slot: number): void {
    this.ids[slot] = undefined;
    this.cell[slot] = -1;
    this.indexed[slot] = 0;
    this.free.push(slot);
  }

  status(slot: number): StoredStatus {
    return STATUS_NAME[this.meta[slot]! & 3]!;
  }

  vehicle(slot: number): StoredVehicle {
    return VEHICLE_NAME[this.meta[slot]! >> 2]!;
  }

  /** Sets status and vehicle; returns the new meta byte. */
  setMeta(slot: number, status: StoredStatus, vehicle: StoredVehicle): number {
    return (this.meta[slot] = STATUS_CODE[status] | (VEHICLE_CODE[vehicle] << 2));
  }

  /** Frees every slot and returns to the initial capacity. */
  clear(): void {
    this.ids = [];
    this.free = [];
    this.highWater = 0;
    this.allocate(INITIAL_CAPACITY);
  }

  private grow(): void {
    const old = { lat: this.lat, lng: this.lng, ts: this.ts, meta: this.meta, seq: this.seq, acc: this.acc, spd: this.spd, hdg: this.hdg, cell: this.cell, indexed: this.indexed };
    this.allocate(this.capacity * 2);
    this.lat.set(old.lat);
    this.lng.set(old.lng);
    this.ts.set(old.ts);
    this.meta.set(old.meta);
    this.seq.set(old.seq);
    this.acc.set(old.acc);
    this.spd.set(old.spd);
    this.hdg.set(old.hdg);
    this.cell.set(old.cell);
    this.indexed.set(old.indexed);
  }

  private allocate(n: number): void {
    this.lat = new Float64Array(n);
    this.lng = new Float64Array(n);
    this.ts = new Float64Array(n);
    this.meta = new Uint8Array(n);
    this.seq = new Float64Array(n);
    this.acc = new Float32Array(n);
    this.spd = new Float32Array(n);
    this.hdg = new Float32Array(n);
    this.cell = new Int32Array(n);
    this.indexed = new Uint8Array(n);
  }
}
