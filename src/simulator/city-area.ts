import type { Rng } from './rng.js';

/** `[minLng, minLat, maxLng, maxLat]`, GeoJSON order, as `/v1/track` areas. */
export type BBox = readonly [number, number, number, number];

export interface LatLng {
  lat: number;
  lng: number;
}

/** Mean Earth radius, metres. */
const EARTH_M = 6_371_008.8;
const RAD = Math.PI / 180;

/** A square of `sideKm` around a centre, with the flat-Earth approximation that holds at city scale. */
export function boxAround(center: LatLng, sideKm: number): BBox {
  const dLat = (sideKm * 500) / (EARTH_M * RAD);
  const dLng = dLat / Math.cos(center.lat * RAD);
  const r = (x: number): number => Math.round(x * 1e4) / 1e4;
  return [r(center.lng - dLng), r(center.lat - dLat), r(center.lng + dLng), r(center.lat + dLat)];
}

/** 10 × 10 km around Berlin Mitte: the default city of the simulator. */
export const BERLIN_BBOX: BBox = boxAround({ lat: 52.52, lng: 13.405 }, 10);

/**
 * The city the simulated fleet lives in: random points inside it and straight
 * moves between them. Boxes crossing the antimeridian are not supported (no
 * delivery city does).
 */
export class CityArea {
  constructor(readonly bbox: BBox) {}

  randomPoint(rng: Rng): LatLng {
    const [minLng, minLat, maxLng, maxLat] = this.bbox;
    return { lat: rng.between(minLat, maxLat), lng: rng.between(minLng, maxLng) };
  }

  /** Great-circle (haversine) distance in metres. */
  static distanceM(a: LatLng, b: LatLng): number {
    const dLat = (b.lat - a.lat) * RAD;
    const dLng = (b.lng - a.lng) * RAD;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLng / 2) ** 2;
    return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  /** Initial bearing from `a` to `b`, degrees in [0, 360). */
  static bearing(a: LatLng, b: LatLng): number {
    const y = Math.sin((b.lng - a.lng) * RAD) * Math.cos(b.lat * RAD);
    const x = Math.cos(a.lat * RAD) * Math.sin(b.lat * RAD) - Math.sin(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.cos((b.lng - a.lng) * RAD);
    return (Math.atan2(y, x) / RAD + 360) % 360;
  }

  /** The point `stepM` metres from `from` towards `to` (linear interpolation: steps are metres, not kilometres), or `to` when closer. */
  static moveTowards(from: LatLng, to: LatLng, stepM: number): LatLng {
    const d = CityArea.distanceM(from, to);
    if (d <= stepM || d === 0) return { lat: to.lat, lng: to.lng };
    const f = stepM / d;
    return { lat: from.lat + (to.lat - from.lat) * f, lng: from.lng + (to.lng - from.lng) * f };
  }
}
