import { HexfleetError } from '../protocol/error-codes.js';

/** `[minLng, minLat, maxLng, maxLat]`, GeoJSON order. */
export type Bbox = readonly [minLng: number, minLat: number, maxLng: number, maxLat: number];

/**
 * Validates a bbox from a client frame. Throws `invalid_bbox` naming what is
 * wrong. `minLng > maxLng` is a box that crosses the antimeridian (e.g.
 * `[170, -20, -170, 20]` around Fiji), as in GeoJSON (RFC 7946 §5.2); a box
 * with `minLat > maxLat` is refused, since no box crosses a pole that way.
 */
export function parseBbox(raw: unknown): Bbox {
  if (!Array.isArray(raw) || raw.length !== 4 || !raw.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new HexfleetError('invalid_bbox', 'bbox must be an array of 4 finite numbers [minLng, minLat, maxLng, maxLat]');
  }
  const [minLng, minLat, maxLng, maxLat] = raw as [number, number, number, number];
  if (minLng < -180 || minLng > 180 || maxLng < -180 || maxLng > 180) throw new HexfleetError('invalid_bbox', 'bbox longitudes must be in [-180, 180]');
  if (minLat < -90 || minLat > 90 || maxLat < -90 || maxLat > 90) throw new HexfleetError('invalid_bbox', 'bbox latitudes must be in [-90, 90]');
  if (minLat > maxLat) throw new HexfleetError('invalid_bbox', 'bbox minLat must not exceed maxLat');
  return [minLng, minLat, maxLng, maxLat];
}

/** Whether a point lies in the box (edges included; antimeridian-crossing boxes wrap). */
export function bboxContains(b: Bbox, lat: number, lng: number): boolean {
  if (lat < b[1] || lat > b[3]) return false;
  return b[0] <= b[2] ? lng >= b[0] && lng <= b[2] : lng >= b[0] || lng <= b[2];
}

/** A stable key for a bbox (unsubscribe_area names the box it subscribed). */
export function bboxKey(b: Bbox): string {
  return b.join(',');
}
