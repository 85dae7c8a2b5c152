import { cellToBoundary, cellToLatLng, getPentagons, gridDisk, latLngToCell } from 'h3-js';
import { DRIVER_STATUSES, type NearbyOptions, type StoredStatus } from '../../src/geo/driver-store.js';
import { distanceM, quantize } from '../../src/geo/geodesy.js';
import { bearing, destination, interpolate, randomInDisk, seededRandom } from './geo-fixtures.js';

/**
 * Seeded driver sets and query points for the nearby-exactness cases of the
 * DriverStore contract, and the brute-force answer they are checked against.
 */

/** A driver as a test places it (lat/lng as sent; the store keeps them quantize()d). */
export interface PlacedDriver {
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  status: StoredStatus;
}

export interface DataSet {
  drivers: PlacedDriver[];
  queries: [number, number][];
}

export interface NearbyRow {
  radiusM: number;
  options: NearbyOptions;
}

const STATUSES: StoredStatus[] = ['unknown', ...DRIVER_STATUSES];

/** Metres per degree of latitude on the hexfleet sphere. */
const M_PER_DEG = 111_195;

/**
 * `count` drivers drawn by `place`; about one in ten is put on the exact spot
 * of an earlier one, so ties (same distance, ordered by driverId) occur.
 * Half the fixes are older than staleMs (30 s) at `now`.
 */
function drivers(rand: () => number, count: number, now: number, place: () => [number, number]): PlacedDriver[] {
  const out: PlacedDriver[] = [];
  for (let i = 0; i < count; i++) {
    const twin = out.length > 0 && rand() < 0.1 ? out[Math.floor(rand() * out.length)]! : undefined;
    const [lat, lng] = twin ? [twin.lat, twin.lng] : place();
    out.push({
      driverId: `drv-${String(i).padStart(5, '0')}`,
      lat,
      lng,
      ts: now - Math.floor(rand() * 60_000),
      status: STATUSES[Math.floor(rand() * STATUSES.length)]!,
    });
  }
  return out;
}

/**
 * ~30 × 30 km around a city centre, 40 % of the drivers in a dense 2.5 km
 * core (where an early stop on `limit` is decided by metres); queries in the
 * square and the core, on drivers, at a corner and far outside.
 */
export function cityDataSet(seed: number, count: number, now: number): DataSet {
  const rand = seededRandom(seed);
  const center = { lat: 52.52, lng: 13.405 };
  const dLat = 15_000 / M_PER_DEG;
  const dLng = dLat / Math.cos(center.lat * (Math.PI / 180));
  const inSquare = (): [number, number] => [
    center.lat + (rand() * 2 - 1) * dLat, center.lng + (rand() * 2 - 1) * dLng,
  ];
  const inCore = (): [number, number] => randomInDisk(rand, center.lat, center.lng, 2_500);
  const ds = drivers(rand, count, now, () => (rand() < 0.4 ? inCore() : inSquare()));
  const queries: [number, number][] = [...Array.from({ length: 8 }, inSquare), ...Array.from({ length: 8 }, inCore)];
  for (const d of [ds[3]!, ds[count - 1]!]) queries.push([d.lat, d.lng]);
  queries.push([center.lat + dLat, center.lng - dLng], [center.lat + 3 * dLat, center.lng]);
  return { drivers: ds, queries };
}

/** Drivers within `spreadM` of a point; queries around it and on the point itself. */
export function clusterDataSet(seed: number, count: number, now: number, center: [number, number], spreadM: number): DataSet {
  const rand = seededRandom(seed);
  const inDisk = (): [number, number] => randomInDisk(rand, center[0], center[1], spreadM);
  const queries: [number, number][] = [center, ...Array.from({ length: 9 }, () => randomInDisk(rand, center[0], center[1], spreadM * 1.2))];
  return { drivers: drivers(rand, count, now, inDisk), queries };
}

/**
 * Drivers hugging the boundary of one H3 cell — on, just inside and just
 * outside its vertices and edges — and queries from the neighbouring cells:
 * their centres and points just across each shared edge and vertex.
 */
export function cellEdgeDataSet(seed: number, now: number, resolution: number): DataSet {
  const rand = seededRandom(seed);
  const cell = latLngToCell(52.52, 13.405, resolution);
  const [clat, clng] = cellToLatLng(cell);
  const boundary = cellToBoundary(cell);
  /** Moves a boundary point `m` metres away from the cell centre (negative: towards it). */
  const outward = ([lat, lng]: [number, number], m: number): [number, number] =>
    destination(lat, lng, bearing(lat, lng, clat, clng), -m);

  const spots: [number, number][] = [];
  const queries: [number, number][] = [];
  boundary.forEach((v, i) => {
    const next = boundary[(i + 1) % boundary.length]!;
    for (const t of [0, 0.25, 0.5, 0.75]) {
      const p = interpolate(v, next, t);
      for (const m of [-2, -0.3, -0.02, 0, 0.02, 0.3, 2]) spots.push(outward(p, m));
    }
    queries.push(outward(v, 1), outward(interpolate(v, next, 0.5), 0.5), outward(interpolate(v, next, 0.3), 0.05));
  });
  for (const n of gridDisk(cell, 1)) if (n !== cell) queries.push(cellToLatLng(n));
  const near = gridDisk(cell, 2);
  for (let i = 0; i < 100; i++) {
    const [lat, lng] = cellToLatLng(near[Math.floor(rand() * near.length)]!);
    spots.push(randomInDisk(rand, lat, lng, 200));
  }
  let k = 0;
  return { drivers: drivers(rand, spots.length, now, () => spots[k++ % spots.length]!), queries };
}

/** The centre of the `index`th pentagon at a resolution. */
export function pentagonCenter(resolution: number, index: number): [number, number] {
  return cellToLatLng(getPentagons(resolution)[index]!);
}

/** What nearby() must return: every matching driver within the radius, nearest first, ties by driverId. */
export function bruteForceNearby(
  ds: readonly PlacedDriver[],
  lat: number,
  lng: number,
  { radiusM, options }: NearbyRow,
  now: number,
  staleMs: number,
): { driverId: string; distanceM: number }[] {
  return ds
    .filter((d) => (options.status === undefined || d.status === options.status)
      && (options.includeStale || now - d.ts <= staleMs))
    .map((d) => ({ driverId: d.driverId, distanceM: distanceM(lat, lng, quantize(d.lat), quantize(d.lng)) }))
    .filter((d) => d.distanceM <= radiusM)
    .sort((a, b) => a.distanceM - b.distanceM || (a.driverId < b.driverId ? -1 : a.driverId > b.driverId ? 1 : 0))
    .slice(0, options.limit);
}
