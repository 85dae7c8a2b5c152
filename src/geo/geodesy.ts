/** Mean Earth radius (IUGG), metres: the sphere every hexfleet distance is measured on. */
export const EARTH_RADIUS_M = 6_371_008.8;

const RAD = Math.PI / 180;

/**
 * Great-circle distance in metres (haversine). The Lua scripts use the same
 * formula on the same stored coordinates, so both stores agree to the metre.
 */
export function distanceM(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLng = (lng2 - lng1) * RAD;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** Coordinates are stored as integers of 1e-7 degrees (about 1 cm): both stores round the same way. */
export const COORD_SCALE = 1e7;

export function quantize(deg: number): number {
  return Math.round(deg * COORD_SCALE) / COORD_SCALE;
}

/** acc, spd and hdg are kept to 0.01 (both stores), which float32 holds exactly enough. */
export function quantizeMetric(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.round(v * 100) / 100;
}
