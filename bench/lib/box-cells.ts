import { polygonToCells } from 'h3-js';
import type { Area } from './driver-sim.js';

/** Metres per degree of latitude (a city box is small enough to be flat). */
const M_PER_DEG = 111_320;

/** The H3 cells at `resolution` whose centres lie in the square area. */
export function boxCells(area: Area, resolution: number): string[] {
  const dLat = area.halfSideM / M_PER_DEG;
  const dLng = area.halfSideM / (M_PER_DEG * Math.cos((area.lat * Math.PI) / 180));
  const ring: [number, number][] = [
    [area.lat - dLat, area.lng - dLng], [area.lat - dLat, area.lng + dLng],
    [area.lat + dLat, area.lng + dLng], [area.lat + dLat, area.lng - dLng],
  ];
  return polygonToCells(ring, resolution);
}
