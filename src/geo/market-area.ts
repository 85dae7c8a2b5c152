import { cellToParent, getResolution, isValidCell, latLngToCell } from 'h3-js';
import { ConfigError } from '../config/load-config.js';

/**
 * The area (market) unit of a deployment: the H3 parent of a position's cell
 * at HEXFLEET_REDIS_AREA_RESOLUTION (res 3: ~12,000 km², a metropolitan
 * market). The Cluster engine shards drivers by it, the position bus fans
 * positions out by it (one channel per area), and a gateway's read index may
 * follow only some of them (HEXFLEET_MARKETS). One function, so the three
 * always agree on which area a driver is in.
 */
export function areaOfCell(cell: string, resolution: number): string {
  return getResolution(cell) <= resolution ? cell : cellToParent(cell, resolution);
}

/** The area of a point. */
export function areaOfPoint(lat: number, lng: number, resolution: number): string {
  return latLngToCell(lat, lng, resolution);
}

/**
 * The areas a HEXFLEET_MARKETS value names: a comma list of H3 cells (a cell
 * finer than the area resolution stands for its area) and `lat,lng` points
 * (two numbers in a row). Empty: undefined, every area. Throws a
 * ConfigError naming the option and the first entry it cannot read.
 */
export function parseMarkets(list: string, resolution: number, option = 'HEXFLEET_MARKETS'): string[] | undefined {
  const items = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) return undefined;
  const areas = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (isValidCell(item)) {
      if (getResolution(item) < resolution) {
        throw new ConfigError(`${option}: ${item} is coarser (res ${getResolution(item)}) than an area (HEXFLEET_REDIS_AREA_RESOLUTION=${resolution}); name its areas or points in them`);
      }
      areas.add(areaOfCell(item, resolution));
      continue;
    }
    const lat = Number(item);
    const next = items[i + 1];
    const lng = Number(next);
    if (!/^-?\d+(\.\d+)?$/.test(item) || next === undefined || !/^-?\d+(\.\d+)?$/.test(next)) {
      throw new ConfigError(`${option} must be a comma list of H3 cells and lat,lng points, got "${item}" (entry ${i + 1})`);
    }
    if (lat < -90 || lat > 90 || lng < -180 || lng > 180) throw new ConfigError(`${option}: point ${item},${next} is outside [-90, 90] × [-180, 180]`);
    areas.add(areaOfPoint(lat, lng, resolution));
    i++;
  }
  return [...areas];
}

/** HEXFLEET_REDIS_AREA_RESOLUTION's default: res 3, ~12,000 km², a metropolitan market. */
export const DEFAULT_AREA_RESOLUTION = 3;
