import type { StoredVehicle, VehicleType } from '../domain/vehicle.js';
import type { NearbyDriver, NearbyOptions, StoredStatus } from './driver-store.js';
import { distanceM } from './geodesy.js';
import type { RingPlanner, RingSlice } from './ring-planner.js';

/** A driver as the cell index holds it. */
export interface CellEntry {
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  status: StoredStatus;
  vehicle: StoredVehicle;
}

export interface NearbyQuery {
  lat: number;
  lng: number;
  radiusM: number;
  limit: number;
  includeStale: boolean;
  status: StoredStatus | undefined;
  vehicles: readonly VehicleType[] | undefined;
  now: number;
  staleMs: number;
}

export interface Candidate extends CellEntry {
  distanceM: number;
}

export interface SliceResult {
  found: Candidate[];
  /** The search may stop: enough drivers within the bound, or the radius is covered. */
  complete: boolean;
}

/**
 * Reads one slice of rings (the reference for `nearby.lua`, which does the same
 * inside Redis). `prior` holds the distances already found by earlier slices.
 */
export function scanSlice(
  q: NearbyQuery,
  slice: RingSlice,
  prior: readonly number[],
  readCell: (cell: string) => Iterable<CellEntry>,
): SliceResult {
  const found: Candidate[] = [];
  for (let i = 0; i < slice.rings.length; i++) {
    for (const cell of slice.rings[i]!) {
      for (const e of readCell(cell)) {
        if (q.status !== undefined && e.status !== q.status) continue;
        if (q.vehicles?.length && !(q.vehicles as readonly string[]).includes(e.vehicle)) continue;
        if (!q.includeStale && q.now - e.ts > q.staleMs) continue;
        const d = distanceM(q.lat, q.lng, e.lat, e.lng);
        if (d <= q.radiusM) found.push({ ...e, distanceM: d });
      }
    }
    const bound = slice.bounds[i]!;
    if (bound >= q.radiusM) return { found, complete: true };
    let within = 0;
    for (const d of prior) if (d <= bound) within++;
    for (const c of found) if (c.distanceM <= bound) within++;
    if (within >= q.limit) return { found, complete: true };
  }
  return { found, complete: false };
}

/**
 * Runs a search slice by slice until a slice reports completion, then returns
 * the nearest `limit` drivers. `readSlice` is where a store does its I/O.
 */
export async function runNearby(
  planner: RingPlanner,
  q: NearbyQuery,
  readSlice: (slice: RingSlice, prior: readonly number[]) => Promise<SliceResult> | SliceResult,
): Promise<NearbyDriver[]> {
  let all: Candidate[] = [];
  for (const slice of planner.slices(q.lat, q.lng, q.radiusM)) {
    const prior = all.map((c) => c.distanceM);
    const { found, complete } = await readSlice(slice, prior);
    all = all.concat(found).sort(byDistance).slice(0, q.limit);
    if (complete) break;
  }
  return all.map((c) => {
    const ageMs = Math.max(0, q.now - c.ts);
    return {
      driverId: c.driverId,
      lat: c.lat,
      lng: c.lng,
      ts: c.ts,
      status: c.status,
      vehicle: c.vehicle,
      distanceM: Math.round(c.distanceM * 10) / 10,
      ageMs,
      stale: ageMs > q.staleMs,
    };
  });
}

function byDistance(a: Candidate, b: Candidate): number {
  return a.distanceM - b.distanceM || (a.driverId < b.driverId ? -1 : a.driverId > b.driverId ? 1 : 0);
}

export function nearbyQuery(
  lat: number,
  lng: number,
  radiusM: number,
  options: NearbyOptions,
  now: number,
  staleMs: number,
): NearbyQuery {
  return {
    lat,
    lng,
    radiusM,
    limit: options.limit,
    includeStale: options.includeStale ?? false,
    status: options.status,
    vehicles: options.vehicles,
    now,
    staleMs,
  };
}
