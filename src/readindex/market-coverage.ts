import { cellToBoundary, cellToLatLng, gridDiskDistances } from 'h3-js';
import { distanceM } from '../geo/geodesy.js';
import { areaOfCell, areaOfPoint } from '../geo/market-area.js';
import { ringLowerBound } from '../geo/ring-planner.js';

/** A cell that is not held, as the coverage test needs it: its center and circumradius (metres). */
interface Fence {
  lat: number;
  lng: number;
  r: number;
}

/** Guards the distance tests against floating-point error, metres (as RingPlanner does). */
const SLACK_M = 1;
/**
 * Rings of areas looked at around a held one: at res 3 a 200 km radius needs 3, at res 6 (tests' clusters) 20 km
 * needs about 5. Past it (tiny areas, a huge HEXFLEET_NEARBY_MAX_RADIUS_M) every query of the area goes to the backend.
 */
const MAX_RINGS = 20;

/**
 * The markets (areas) a read index holds, and whether a nearby query can be
 * answered from them: every point within the radius must lie in a held area,
 * else a driver just across the border, held by nobody here, would be missed.
 *
 *   query q in held area A; the areas around A that are not held are the fence
 *   covered ⇔ every fence cell c has |q c| − R_c > radius   (R_c: c's circumradius)
 *
 * The fence of A is every unheld cell of the disk of K rings around A, K the
 * smallest ring count beyond which nothing is nearer to any point of A than
 * the largest radius (RingPlanner's lower bound, from A's center, minus A's
 * own circumradius). Computed once per held area: a query costs its area
 * lookup and one distance per fence cell, a handful.
 */
export class MarketCoverage {
  private readonly held: ReadonlySet<string>;
  private readonly fences = new Map<string, Fence[]>();

  constructor(
    markets: readonly string[],
    private readonly resolution: number,
    /** The largest radius a query may ask (HEXFLEET_NEARBY_MAX_RADIUS_M); larger ones are never covered. */
    private readonly maxRadiusM: number,
  ) {
    this.held = new Set(markets);
  }

  /** The held areas. */
  get areas(): readonly string[] {
    return [...this.held];
  }

  hasArea(area: string): boolean {
    return this.held.has(area);
  }

  holdsPoint(lat: number, lng: number): boolean {
    return this.held.has(areaOfPoint(lat, lng, this.resolution));
  }

  /** Whether an H3 cell (of any resolution at least the area's) lies in a held area. */
  holdsCell(cell: string): boolean {
    return this.held.has(areaOfCell(cell, this.resolution));
  }

  /** True when every point within `radiusM` of (lat, lng) lies in a held area. */
  covers(lat: number, lng: number, radiusM: number): boolean {
    if (radiusM > this.maxRadiusM) return false;
    const area = areaOfPoint(lat, lng, this.resolution);
    if (!this.held.has(area)) return false;
    for (const f of this.fenceOf(area)) if (distanceM(lat, lng, f.lat, f.lng) - f.r <= radiusM + SLACK_M) return false;
    return true;
  }

  private fenceOf(area: string): Fence[] {
    let fence = this.fences.get(area);
    if (fence) return fence;
    const [alat, alng] = cellToLatLng(area);
    const ownR = circumradius(area, alat, alng);
    // Not bounded within MAX_RINGS: a fence no query passes (the backend answers).
    fence = [{ lat: alat, lng: alng, r: Infinity }];
    for (let k = 1; k <= MAX_RINGS; k++) {
      const rings = gridDiskDistances(area, k + 1);
      // Nothing beyond ring k is nearer than this to any point of the area.
      if (ringLowerBound(alat, alng, rings[k + 1] ?? [], Infinity) - ownR > this.maxRadiusM + SLACK_M) {
        fence = rings.slice(0, k + 1).flat().filter((c) => !this.held.has(c)).map((c) => {
          const [lat, lng] = cellToLatLng(c);
          return { lat, lng, r: circumradius(c, lat, lng) };
        });
        break;
      }
    }
    this.fences.set(area, fence);
    return fence;
  }
}

function circumradius(cell: string, lat: number, lng: number): number {
  let r = 0;
  for (const [vlat, vlng] of cellToBoundary(cell)) r = Math.max(r, distanceM(lat, lng, vlat, vlng));
  return r;
}
