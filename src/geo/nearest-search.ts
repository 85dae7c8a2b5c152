import { latLngToCell } from 'h3-js';
import { VEHICLE_CODE, VEHICLE_NAME, type VehicleType } from '../domain/vehicle.js';
import { type CellEntries, I32_STRIDE, META_I32, SLOT_I32, STRIDE } from './cell-entries.js';
import { type DriverSlots, STATUS_CODE, STATUS_NAME } from './driver-slots.js';
import type { NearbyDriver, NearbyOptions } from './driver-store.js';
import { EARTH_RADIUS_M } from './geodesy.js';
import { NearestHeap } from './nearest-heap.js';
import type { RingCache } from './ring-cache.js';

const RAD = Math.PI / 180;
/**
 * Guards both stop tests against floating-point error, metres (the planner's
 * slack): a driver exactly at the bound could otherwise be missed by a
 * rounding in a centre or vertex distance. It only ever reads a ring more.
 */
const SLACK_M = 1;

/**
 * DriverIndex's exact nearest search: RingPlanner's rings and bound, read
 * from the ring cache and the cell entries.
 *
 *   for k = 0, 1, 2, …   (ring k of the query's cell; m[k] from RingCache)
 *     each entry of each cell of ring k: status, vehicle and stale filters,
 *       a lower bound without trigonometry against the current cut-off,
 *       then geodesy.distanceM's formula; kept if among the nearest `limit`
 *     stop once m[k] − |q o| − slack ≥ radius (all of the radius read) or the
 *       heap holds `limit` drivers within it (nobody unread can be nearer)
 *
 * The same answer as runNearby + scanSlice over the same drivers, field for
 * field (the benchmark compares them); one instance per index, not reentrant.
 */
export class NearestSearch {
  /** Entries kept by a search; ties are told apart by the driver id of the entry's slot. */
  private readonly heap = new NearestHeap((e) => this.slots.ids[this.entries.i32[e * I32_STRIDE + SLOT_I32]!] ?? '');
  private outEntries = new Int32Array(16);
  private outDists = new Float64Array(16);

  constructor(
    private readonly resolution: number,
    private readonly rings: RingCache,
    private readonly entries: CellEntries,
    private readonly slots: DriverSlots,
  ) {}

  /**
   * Drivers within `radiusM` metres (great-circle) of a point, nearest first,
   * ties by driver id, at most `options.limit`: exactly what
   * DriverStore.nearby() returns for the same drivers. Stale drivers (silent
   * more than `staleMs` at `now`) are left out unless `includeStale`.
   */
  nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number, staleMs: number): NearbyDriver[] {
    // As slice(0, limit) would count it: a fractional limit keeps its integer part.
    const limit = Math.floor(options.limit);
    if (!(limit > 0)) return [];
    const origin = this.rings.origin(latLngToCell(lat, lng, this.resolution));
    const offset = haversine(lat, lng, Math.cos(lat * RAD), origin.lat, origin.lng, Math.cos(origin.lat * RAD));
    const status = options.status === undefined ? -1 : STATUS_CODE[options.status];
    const vehicles = vehicleMask(options.vehicles);
    const staleAfter = options.includeStale ? -1 : staleMs;
    const entries = this.entries;
    const heap = this.heap;
    heap.reset(limit);
    const cosQ = Math.cos(lat * RAD);
    let floor = floorOf(radiusM);
    let from = 0;
    for (let k = 0; ; k++) {
      // May intern new cells, which may grow the arena: read it afterwards.
      this.rings.ensure(origin, k);
      const { f64, i32, span } = entries;
      const to = origin.ringEnd[k]!;
      for (let c = from; c < to; c++) {
        const id = origin.ids[c]!;
        const first = span[2 * id]!;
        const end = first + span[2 * id + 1]!;
        for (let e = first; e < end; e++) {
          const m = i32[e * I32_STRIDE + META_I32]!;
          if (status >= 0 && (m & 3) !== status) continue;
          if (vehicles !== 0 && ((vehicles >> (m >> 2)) & 1) === 0) continue;
          const b = e * STRIDE;
          if (staleAfter >= 0 && now - f64[b + 3]! > staleAfter) continue;
          const dLat = (f64[b]! - lat) * RAD;
          const dLng = (f64[b + 1]! - lng) * RAD;
          const cc = cosQ * f64[b + 2]!;
          // Most drivers read cannot be kept: reject them on a lower bound that needs no sin or asin.
          if (haversineFloor(dLat, dLng, cc) > floor) continue;
          // The same formula as geodesy.distanceM, with the driver's cos(lat) precomputed: the same double.
          const x = Math.sin(dLat / 2) ** 2 + cc * Math.sin(dLng / 2) ** 2;
          const d = 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(x)));
          if (d <= radiusM && heap.offer(e, d)) floor = floorOf(heap.cutoff(radiusM));
        }
      }
      from = to;
      // After ring k no unread driver is nearer than `bound` (see RingCache / RingPlanner).
      const bound = origin.m[k]! - offset - SLACK_M;
      if (bound >= radiusM || heap.fullWithin(bound)) break;
    }
    return this.answer(now, staleMs);
  }

  /**
   * The heap's drivers as NearbyDriver objects, nearest first (the shape
   * runNearby returns), read from their entries: the scan has just brought
   * them into the cache, where the slots' arrays would cost a miss per field.
   */
  private answer(now: number, staleMs: number): NearbyDriver[] {
    const n = this.heap.size;
    if (n > this.outEntries.length) {
      this.outEntries = new Int32Array(n * 2);
      this.outDists = new Float64Array(n * 2);
    }
    this.heap.drain(this.outEntries, this.outDists);
    const { f64, i32 } = this.entries;
    const ids = this.slots.ids;
    const out = new Array<NearbyDriver>(n);
    for (let i = 0; i < n; i++) {
      const e = this.outEntries[i]!;
      const ts = f64[e * STRIDE + 3]!;
      const meta = i32[e * I32_STRIDE + META_I32]!;
      const ageMs = Math.max(0, now - ts);
      out[i] = {
        driverId: ids[i32[e * I32_STRIDE + SLOT_I32]!]!,
        lat: f64[e * STRIDE]!,
        lng: f64[e * STRIDE + 1]!,
        ts,
        status: STATUS_NAME[meta & 3]!,
        vehicle: VEHICLE_NAME[meta >> 2]!,
        distanceM: Math.round(this.outDists[i]! * 10) / 10,
        ageMs,
        stale: ageMs > staleMs,
      };
    }
    return out;
  }
}

/** Bit n set: vehicle code n is asked for; 0: any vehicle (no filter, or an empty one). */
function vehicleMask(vehicles: readonly VehicleType[] | undefined): number {
  if (!vehicles?.length) return 0;
  let mask = 0;
  for (const v of vehicles) mask |= 1 << VEHICLE_CODE[v];
  return mask;
}

/**
 * A lower bound on haversine's x = sin²(dLat/2) + cc·sin²(dLng/2) without
 * trigonometry, from sin t ≥ t − t³/6 (0 ≤ t ≤ √6). |dLat/2| ≤ π/2 always;
 * |dLng/2| may reach π across the antimeridian, where its term is dropped (0 is
 * a bound too).
 */
function haversineFloor(dLat: number, dLng: number, cc: number): number {
  const a = Math.abs(dLat / 2);
  const b = Math.abs(dLng / 2);
  const sa = a - (a * a * a) / 6;
  const sb = b < 2 ? b - (b * b * b) / 6 : 0;
  return sa * sa + cc * sb * sb;
}

/**
 * The x above which a driver is farther than `d` metres (d = 2R·asin(√x) ≥
 * 2R·√x), widened by a relative 1e-9 and 1 µm so that rounding in either
 * computation never rejects a driver the exact distance would keep.
 */
function floorOf(d: number): number {
  const r = (d * (1 + 1e-9) + 1e-6) / (2 * EARTH_RADIUS_M);
  return r * r;
}

/** geodesy.distanceM with both cosines given. */
function haversine(lat1: number, lng1: number, cos1: number, lat2: number, lng2: number, cos2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLng = (lng2 - lng1) * RAD;
  const x = Math.sin(dLat / 2) ** 2 + cos1 * cos2 * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(x)));
}
