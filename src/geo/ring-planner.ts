import { cellToBoundary, cellToLatLng, getHexagonEdgeLengthAvg, gridDiskDistances, gridRingUnsafe, latLngToCell } from 'h3-js';
import { distanceM } from './geodesy.js';

/**
 * Plans an exact radius search over the H3 cell index, ring by ring.
 *
 * A search starts at the query point's cell (ring 0) and widens one grid ring
 * at a time. After ring k, every point closer than `bound[k]` to the query
 * point has been seen:
 *
 *        ring k+1 (not yet read)          c = center of a ring k+1 cell
 *     ┌──────────────────────────┐        R = its circumradius (farthest vertex)
 *     │  rings 0..k (read)       │        o = center of ring 0, q = query point
 *     │        q·──o             │
 *     │                          │   bound[k] = min over c of (|o c| − R_c) − |q o|
 *     └──────────────────────────┘
 *
 * Any point outside rings 0..k lies in a cell of ring ≥ k+1, and a path to it
 * from q first enters a ring k+1 cell, whose every point is at least
 * |o c| − R_c from o (triangle inequality on the sphere), hence at least
 * bound[k] from q. So:
 * - once bound[k] ≥ radius, every driver within the radius has been read;
 * - once `limit` drivers lie within bound[k], no unread driver can be nearer
 *   than them: the search stops early. In a dense city a nearest-10 query at
 *   resolution 9 usually stops after ring 1 or 2 (7 or 19 cells).
 *
 * The bound uses real cell geometry (cellToBoundary), so it stays a true lower
 * bound near pentagons, at the poles and across the antimeridian, where cell
 * shapes are distorted. Ring geometry per origin cell is cached (LRU).
 */
export interface RingSlice {
  /** Ring number of rings[0]. */
  firstRing: number;
  rings: string[][];
  /** bounds[i]: no unread driver is nearer than this once rings[i] is read. */
  bounds: number[];
}

interface OriginGeometry {
  lat: number;
  lng: number;
  rings: string[][];
  /** m[k] = min over ring k+1 cells of (|o c| − R_c); known for k < m.length. */
  m: number[];
}

/** Rings read by the first round trip; later round trips double. Two rings = 19 cells. */
const FIRST_SLICE_LAST_RING = 2;
/**
 * The ring cache holds at most this many cell ids (~60 bytes each, so ~60 MB):
 * a few thousand busy origins at small radii, or fewer at large ones.
 */
const CACHE_CELLS = 1_000_000;
/** Guards the `bound ≥ radius` test against floating-point error, metres. */
const SLACK_M = 1;

export class RingPlanner {
  private readonly cache = new Map<string, OriginGeometry>();
  /** Cells held by the cache, all origins together. */
  private cachedCells = 0;
  /**
   * An upper bound on any cell's circumradius at this resolution. Measured
   * over 20,000 random cells and every pentagon neighbourhood at resolutions
   * 5–12, the largest circumradius is 1.10 × the average edge length; twice
   * the average leaves a wide margin. Only used to skip work, never as the
   * bound itself.
   */
  private readonly rMax: number;

  /**
   * @param firstSliceLastRing last ring of the first round trip (later ones
   *   double). The default is measured in bench/nearby-resolution.ts.
   */
  constructor(
    readonly resolution: number,
    private readonly firstSliceLastRing = FIRST_SLICE_LAST_RING,
    private readonly cacheCells = CACHE_CELLS,
  ) {
    this.rMax = 2 * getHexagonEdgeLengthAvg(resolution, 'm');
  }

  /** The index cell of a point. */
  cellOf(lat: number, lng: number): string {
    return latLngToCell(lat, lng, this.resolution);
  }

  /**
   * The slices of a search for `radiusM` around (lat, lng), in order. A caller
   * reads slices until its own stop condition holds; the last slice ends with
   * a bound of at least radiusM.
   */
  *slices(lat: number, lng: number, radiusM: number): Generator<RingSlice> {
    const origin = this.origin(this.cellOf(lat, lng));
    const offset = distanceM(lat, lng, origin.lat, origin.lng);
    let first = 0;
    let last = this.firstSliceLastRing;
    for (;;) {
      const rings: string[][] = [];
      const bounds: number[] = [];
      let done = false;
      for (let k = first; k <= last; k++) {
        this.ensure(origin, k);
        rings.push(origin.rings[k] ?? []);
        const bound = origin.m[k]! - offset;
        bounds.push(bound);
        if (bound >= radiusM + SLACK_M) {
          done = true;
          break;
        }
      }
      yield { firstRing: first, rings, bounds };
      if (done) return;
      first = last + 1;
      last = 2 * last + 1;
    }
  }

  private origin(cell: string): OriginGeometry {
    let geo = this.cache.get(cell);
    if (geo) {
      // Refresh LRU position.
      this.cache.delete(cell);
      this.cache.set(cell, geo);
      return geo;
    }
    const [lat, lng] = cellToLatLng(cell);
    geo = { lat, lng, rings: [[cell]], m: [] };
    this.cache.set(cell, geo);
    this.cachedCells += 1;
    return geo;
  }

  /** Drops least recently used origins (never `keep`) while over the cell budget. */
  private evict(keep: OriginGeometry): void {
    for (const [cell, geo] of this.cache) {
      if (this.cachedCells <= this.cacheCells) return;
      if (geo === keep) continue;
      this.cache.delete(cell);
      this.cachedCells -= cellCount(geo.rings);
    }
  }

  /** Makes rings 0..k and bounds m[0..k] known (which needs ring k+1). */
  private ensure(geo: OriginGeometry, k: number): void {
    if (geo.m.length > k) return;
    const origin = geo.rings[0]![0]!;
    const before = cellCount(geo.rings);
    while (geo.rings.length <= k + 1) {
      const n = geo.rings.length;
      try {
        // One ring at a time: a search pays only for the rings it reads.
        geo.rings.push(gridRingUnsafe(origin, n));
      } catch {
        // Near a pentagon the fast ring walk fails; the safe disk call does not.
        geo.rings = gridDiskDistances(origin, k + 1);
      }
    }
    // A search may still hold an origin that the cache has since evicted: count only cached ones.
    if (this.cache.get(origin) === geo) {
      this.cachedCells += cellCount(geo.rings) - before;
      this.evict(geo);
    }
    for (let j = geo.m.length; j <= k; j++) geo.m.push(ringLowerBound(geo.lat, geo.lng, geo.rings[j + 1] ?? [], this.rMax));
  }
}

/**
 * min over the ring's cells of (|o c| − R_c): no point in the ring's cells is
 * nearer than this to the origin (lat, lng). R_c (from the cell boundary) is
 * only computed where it can matter: a cell with |o c| − rMax at or above the
 * best so far cannot lower the minimum, since R_c ≤ rMax. Shared by
 * RingPlanner and RingCache, so both bound rings the same way.
 */
export function ringLowerBound(lat: number, lng: number, ring: readonly string[], rMax: number): number {
  // An empty ring (the disk already covers the whole globe) bounds nothing further.
  if (ring.length === 0) return Number.MAX_VALUE;
  const centers = ring.map((c) => {
    const [clat, clng] = cellToLatLng(c);
    return { c, lat: clat, lng: clng, d: distanceM(lat, lng, clat, clng) };
  });
  centers.sort((a, b) => a.d - b.d);
  let min = Infinity;
  for (const { c, lat: clat, lng: clng, d } of centers) {
    if (d - rMax >= min) break;
    let circumR = 0;
    for (const [vlat, vlng] of cellToBoundary(c)) circumR = Math.max(circumR, distanceM(clat, clng, vlat, vlng));
    min = Math.min(min, d - circumR);
  }
  return min;
}

function cellCount(rings: string[][]): number {
  return rings.reduce((n, ring) => n + ring.length, 0);
}
