import { mulberry32 } from '../../src/simulator/rng.js';
import { EARTH_RADIUS_M } from '../../src/geo/geodesy.js';

/**
 * Deterministic randomness and sphere geometry shared by the geo tests.
 * Every random data set is drawn from a seeded PRNG, so a failure replays.
 */

/** A seeded PRNG returning [0, 1) (mulberry32: the simulator's and the benchmarks' too). */
export const seededRandom = mulberry32;

const RAD = Math.PI / 180;

/** Longitude folded into [-180, 180]. */
export function wrapLng(lng: number): number {
  const w = ((((lng + 180) % 360) + 360) % 360) - 180;
  return w === -180 && lng > 0 ? 180 : w;
}

/** The point `distM` metres from (lat, lng) along the initial bearing `bearingDeg` (great circle). */
export function destination(lat: number, lng: number, bearingDeg: number, distM: number): [number, number] {
  const d = distM / EARTH_RADIUS_M;
  const b = bearingDeg * RAD;
  const p1 = lat * RAD;
  const sinP2 = Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b);
  const p2 = Math.asin(Math.max(-1, Math.min(1, sinP2)));
  const l2 = lng * RAD + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * sinP2);
  return [p2 / RAD, wrapLng(l2 / RAD)];
}

/** A uniformly random point within `radiusM` of (lat, lng). */
export function randomInDisk(rand: () => number, lat: number, lng: number, radiusM: number): [number, number] {
  return destination(lat, lng, rand() * 360, radiusM * Math.sqrt(rand()));
}

/**
 * The point a fraction `t` of the way from a to b along the great circle
 * (spherical linear interpolation), for sampling cell edges.
 */
export function interpolate(a: [number, number], b: [number, number], t: number): [number, number] {
  const toVec = ([la, ln]: [number, number]): number[] => [
    Math.cos(la * RAD) * Math.cos(ln * RAD), Math.cos(la * RAD) * Math.sin(ln * RAD), Math.sin(la * RAD),
  ];
  const va = toVec(a);
  const vb = toVec(b);
  const dot = Math.max(-1, Math.min(1, va[0]! * vb[0]! + va[1]! * vb[1]! + va[2]! * vb[2]!));
  const omega = Math.acos(dot);
  if (omega < 1e-15) return a;
  const ka = Math.sin((1 - t) * omega) / Math.sin(omega);
  const kb = Math.sin(t * omega) / Math.sin(omega);
  const v = [0, 1, 2].map((i) => ka * va[i]! + kb * vb[i]!);
  return [Math.asin(Math.max(-1, Math.min(1, v[2]!))) / RAD, Math.atan2(v[1]!, v[0]!) / RAD];
}

/** Initial great-circle bearing from point 1 to point 2, degrees clockwise from north. */
export function bearing(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const p1 = lat1 * RAD;
  const p2 = lat2 * RAD;
  const dl = (lng2 - lng1) * RAD;
  const y = Math.sin(dl) * Math.cos(p2);
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dl);
  return Math.atan2(y, x) / RAD;
}
