import { gridDisk, latLngToCell, POLYGON_TO_CELLS_FLAGS, polygonToCellsExperimental } from 'h3-js';
import { ALL_AREAS } from './position-bus.js';
import type { Bbox } from './bbox.js';

/**
 * More areas than this for one box and the box follows every area: one
 * pattern subscription is cheaper than hundreds of channels, and such a box
 * (a country at res 3) sees most of the positions anyway.
 */
const MAX_BOX_AREAS = 256;

/**
 * The areas (cells at `resolution`) an area subscription's box needs to
 * follow: every area that overlaps it, plus one ring around them (H3 draws a
 * polygon's edges as great-circle arcs while a box's edges are parallels, so
 * a sliver of a neighbour can reach into the box), or `[ALL_AREAS]` for a
 * box too large to follow area by area. A box across the antimeridian is
 * split in two.
 */
export function bboxAreas(b: Bbox, resolution: number): string[] {
  const [minLng, minLat, maxLng, maxLat] = b;
  const parts: [number, number][] = minLng <= maxLng ? [[minLng, maxLng]] : [[minLng, 180], [-180, maxLng]];
  const areas = new Set<string>();
  for (const [w, e] of parts) {
    // Wider than 180° is not a polygon H3 reads as meant (it would take the short way round).
    if (e - w >= 180) return [ALL_AREAS];
    const polygon = [[minLat, w], [minLat, e], [maxLat, e], [maxLat, w]];
    // The corners too: a box of no width (a point, a line) is a polygon H3 may find no cell in.
    const corners = polygon.map(([lat, lng]) => latLngToCell(lat!, lng!, resolution));
    for (const cell of [...corners, ...polygonToCellsExperimental(polygon, resolution, POLYGON_TO_CELLS_FLAGS.containmentOverlapping)]) {
      for (const near of gridDisk(cell, 1)) areas.add(near);
      if (areas.size > MAX_BOX_AREAS) return [ALL_AREAS];
    }
  }
  return [...areas];
}
