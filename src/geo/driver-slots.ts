import { type StoredVehicle, VEHICLE_CODE, VEHICLE_NAME } from '../domain/vehicle.js';
import type { StoredStatus } from './driver-store.js';

/** Status codes of a slot (two bits of `meta`). */
export const STATUS_CODE: Readonly<Record<StoredStatus, number>> = { unknown: 0, available: 1, busy: 2, offline: 3 };
export const STATUS_NAME: readonly StoredStatus[] = ['unknown', 'available', 'busy', 'offline'];

const RAD = Math.PI / 180;
/** Slots allocated at first: enough for a test city, small enough to cost nothing idle (~100 kB). */
const INITIAL_CAPACITY = 1024;

/**
 * One slot per driver, in typed arrays (struct of arrays), so a million
 * drivers cost a few dozen objects instead of a million.
 *
 *   hot   Float64 × 4 per slot │ lat │ lng │ cos(lat) │ ts │   one 32-byte run: what a scan reads
 *   meta  Uint8              status (bits 0–1) | vehicle code << 2   (the scan's filters)
 *   seq, acc, spd, hdg  Float64 (NaN: absent)    cell  Int32 (cell id, −1: none)
 *   indexed  Uint8 (the record says: in the cell index)      ids  driver id per slot
 *
 * A scan touches `hot` and `meta` only, one cache line each per driver.
 * cos(lat) is kept because every distance from a query needs it.
 * Positions are degrees already rounded to 1e-7 (the stores' coordinates),
 * so a distance computed here is the distance the stores compute.
 *
 * Freed slots go on a stack and are reused first; a freed slot's position is
 * NaN, so a stray list entry pointing at it never matches a distance test.
 * Capacity doubles when full and never shrinks (clear() starts over).
 */
export class DriverSlots {
  hot!: Float64Array;
  meta!: Uint8Array;
  seq!: Float64Array;
  acc!: Float64Array;
  spd!: Float64Array;
  hdg!: Float64Array;
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

  /** Gives a slot back; its position becomes NaN. */
  give(slot: number): void {
    this.ids[slot] = undefined;
    this.hot[slot * 4] = NaN;
    this.hot[slot * 4 + 1] = NaN;
    this.cell[slot] = -1;
    this.indexed[slot] = 0;
    this.free.push(slot);
  }

  setPosition(slot: number, lat: number, lng: number, ts: number): void {
    const h = slot * 4;
    this.hot[h] = lat;
    this.hot[h + 1] = lng;
    this.hot[h + 2] = Math.cos(lat * RAD);
    this.hot[h + 3] = ts;
  }

  lat(slot: number): number {
    return this.hot[slot * 4]!;
  }

  lng(slot: number): number {
    return this.hot[slot * 4 + 1]!;
  }

  ts(slot: number): number {
    return this.hot[slot * 4 + 3]!;
  }

  status(slot: number): StoredStatus {
    return STATUS_NAME[this.meta[slot]! & 3]!;
  }

  vehicle(slot: number): StoredVehicle {
    return VEHICLE_NAME[this.meta[slot]! >> 2]!;
  }

  setMeta(slot: number, status: StoredStatus, vehicle: StoredVehicle): void {
    this.meta[slot] = STATUS_CODE[status] | (VEHICLE_CODE[vehicle] << 2);
  }

  /** Frees every slot and returns to the initial capacity. */
  clear(): void {
    this.ids = [];
    this.free = [];
    this.highWater = 0;
    this.allocate(INITIAL_CAPACITY);
  }

  private grow(): void {
    const old = { hot: this.hot, meta: this.meta, seq: this.seq, acc: this.acc, spd: this.spd, hdg: this.hdg, cell: this.cell, indexed: this.indexed };
    this.allocate(this.capacity * 2);
    this.hot.set(old.hot);
    this.meta.set(old.meta);
    this.seq.set(old.seq);
    this.acc.set(old.acc);
    this.spd.set(old.spd);
    this.hdg.set(old.hdg);
    this.cell.set(old.cell);
    this.indexed.set(old.indexed);
  }

  private allocate(n: number): void {
    this.hot = new Float64Array(4 * n);
    this.meta = new Uint8Array(n);
    this.seq = new Float64Array(n);
    this.acc = new Float64Array(n);
    this.spd = new Float64Array(n);
    this.hdg = new Float64Array(n);
    this.cell = new Int32Array(n);
    this.indexed = new Uint8Array(n);
  }
}
