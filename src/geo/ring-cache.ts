import { cellToLatLng, getHexagonEdgeLengthAvg, gridDiskDistances, gridRingUnsafe } from 'h3-js';
import { ringLowerBound } from './ring-planner.js';

/** Where the ring cache gets (and gives back) the integer id of a cell. */
export interface CellInterner {
  retain(cell: string): number;
  release(id: number): void;
}

/**
 * The rings around one origin cell, as far out as searches have needed them.
 *
 *   ids:     │ ring 0 │ ring 1 (6) │ ring 2 (12) │ …      cell ids, flat
 *   ringEnd:     1         7            19                ring k = ids[ringEnd[k−1] … ringEnd[k])
 *   m:          m0        m1                              m[k] = min over ring k+1 cells c of (|o c| − R_c)
 *
 * m[k] is the lower bound of {@link RingPlanner}: every point outside rings
 * 0..k is at least m[k] from the origin's centre o, so at least m[k] − |q o|
 * from a query point q in the origin cell. m[k] needs ring k+1, so ring k+1's
 * ids are known whenever m[k] is.
 */
export class OriginRings {
  ids = new Int32Array(64);
  ringEnd: number[] = [];
  m: number[] = [];
  /** gridRingUnsafe failed here once (a pentagon nearby): extend with the safe disk call. */
  pentagonal = false;

  constructor(
    readonly cell: string,
    /** The origin cell's centre. */
    readonly lat: number,
    readonly lng: number,
  ) {}

  /** Cell ids held (all rings). */
  get count(): number {
    return this.ringEnd.length === 0 ? 0 : this.ringEnd[this.ringEnd.length - 1]!;
  }
}

/**
 * Cell references the cache may hold, all origins together: 4 bytes each
 * (16 MB full), plus the cell table they share. A city of 30 × 30 km has
 * ~10,000 origin cells; this holds every one of them for searches of up to
 * ~8 rings (169 cells), e.g. everyone within 1 km at resolution 9.
 */
const DEFAULT_BUDGET_CELLS = 4_000_000;

/**
 * Ring geometry per origin cell, computed once and reused by every query that
 * starts in the cell: what {@link RingPlanner} computes, as arrays of cell ids
 * and bounds that a search reads without calling h3-js or allocating.
 *
 * Eviction is by two generations, not a strict LRU, so that a hit costs one
 * Map lookup and no bookkeeping: origins used since the last rotation are in
 * `young`; an origin found in `old` moves to `young`; when `young` holds half
 * the budget, `old` (whatever was not used for a whole generation) is dropped
 * and `young` becomes `old`. Rotation happens only when an origin is looked
 * up, never during a search, so the origin a search holds stays valid until
 * it returns.
 */
export class RingCache {
  private young = new Map<string, OriginRings>();
  private old = new Map<string, OriginRings>();
  private youngCells = 0;
  /**
   * An upper bound on any cell's circumradius at this resolution (the
   * planner's: twice the average edge, measured to cover every cell at
   * resolutions 5–12 with a wide margin). Only used to skip work.
   */
  private readonly rMax: number;

  constructor(
    readonly resolution: number,
    private readonly cells: CellInterner,
    private readonly budgetCells = DEFAULT_BUDGET_CELLS,
  ) {
    this.rMax = 2 * getHexagonEdgeLengthAvg(resolution, 'm');
  }

  /** The rings of `cell` (ring 0 and its bound at least: m[0] is known). */
  origin(cell: string): OriginRings {
    let o = this.young.get(cell);
    if (o) return o;
    if (this.youngCells >= this.budgetCells / 2) this.rotate();
    o = this.old.get(cell);
    if (o) {
      this.old.delete(cell);
    } else {
      const [lat, lng] = cellToLatLng(cell);
      o = new OriginRings(cell, lat, lng);
      this.append(o, [cell]);
      this.extend(o);
    }
    this.young.set(cell, o);
    this.youngCells += o.count;
    return o;
  }

  /** Makes m[k] known (and so rings 0..k+1). */
  ensure(o: OriginRings, k: number): void {
    while (o.m.length <= k) {
      const before = o.count;
      this.extend(o);
      this.youngCells += o.count - before;
    }
  }

  /** Drops every origin, giving back their cell ids. */
  clear(): void {
    for (const gen of [this.old, this.young]) for (const o of gen.values()) this.drop(o);
    this.old.clear();
    this.young.clear();
    this.youngCells = 0;
  }

  /** Origins held. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  private rotate(): void {
    for (const o of this.old.values()) this.drop(o);
    this.old = this.young;
    this.young = new Map();
    this.youngCells = 0;
  }

  private drop(o: OriginRings): void {
    for (let i = 0; i < o.count; i++) this.cells.release(o.ids[i]!);
  }

  /** Adds the next ring and the bound it gives (m for the ring before it). */
  private extend(o: OriginRings): void {
    const n = o.ringEnd.length;
    let ring: string[] | undefined;
    if (!o.pentagonal) {
      try {
        // One ring at a time: an origin pays only for the rings its searches read.
        ring = gridRingUnsafe(o.cell, n);
      } catch {
        // Near a pentagon the fast ring walk fails; the safe disk call does not.
        o.pentagonal = true;
      }
    }
    ring ??= gridDiskDistances(o.cell, n)[n] ?? [];
    this.append(o, ring);
    o.m.push(ringLowerBound(o.lat, o.lng, ring, this.rMax));
  }

  private append(o: OriginRings, ring: readonly string[]): void {
    const from = o.count;
    if (from + ring.length > o.ids.length) {
      let size = o.ids.length;
      while (size < from + ring.length) size *= 2;
      const ids = new Int32Array(size);
      ids.set(o.ids.subarray(0, from));
      o.ids = ids;
    }
    for (let i = 0; i < ring.length; i++) o.ids[from + i] = this.cells.retain(ring[i]!);
    o.ringEnd.push(from + ring.length);
  }
}
