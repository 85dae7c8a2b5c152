import { flip } from './dense-sap.js';

/**
 * The sparse shortest-augmenting-path search of the assignment solver, over
 * feasible pairs only (see assignment-solver.ts).
 */

/**
 * Feasible pairs as compressed sparse rows: row i's pairs are
 * `col[start[i]] … col[start[i + 1] - 1]`, with shifted costs in `cost`.
 */
export interface Graph {
  start: Int32Array;
  col: Int32Array;
  cost: Float64Array;
}

/**
 * The sparse form of `denseSap`: assigns every one of n rows to a distinct
 * column — a real column 0..m-1 through a pair of `g`, or the row's own dummy
 * column m + i at cost `bigM` — minimising the total cost (costs ≥ 0).
 *
 * Invariants (rectangular LP duality): u[i] + v[j] ≤ cost of every pair, with
 * equality on assigned pairs; v[j] ≤ 0 everywhere and v[j] = 0 on free
 * columns — what makes a partial assignment optimal when columns may stay
 * free. Each free row is added by one Dijkstra search over reduced costs to
 * the nearest free column, then the path is flipped and the duals updated so
 * the invariants hold again.
 */
export function sparseSap(g: Graph, n: number, m: number, bigM: number): Int32Array {
  const total = m + n;
  const u = new Float64Array(n);
  const v = new Float64Array(total);
  const col4row = new Int32Array(n).fill(-1);
  const row4col = new Int32Array(total).fill(-1);
  const { start, col, cost } = g;

  // Start: u[i] = the row's cheapest pair (its dummy if that is cheaper);
  // v = 0 keeps duals feasible, and a row whose cheapest column is still free
  // takes it, the pair being tight. Most rows need no path search.
  for (let i = 0; i < n; i++) {
    let best = m + i;
    let bestCost = bigM;
    for (let e = start[i]!; e < start[i + 1]!; e++) {
      if (cost[e]! < bestCost) {
        bestCost = cost[e]!;
        best = col[e]!;
      }
    }
    u[i] = bestCost;
    if (row4col[best] === -1) {
      row4col[best] = i;
      col4row[i] = best;
    }
  }

  const dist = new Float64Array(total).fill(Infinity); // reduced path cost to each column
  const path = new Int32Array(total); // the row each column was reached from
  const settled = new Uint8Array(total);
  const touched = new Int32Array(total); // columns whose dist was set, to reset them
  const visitedRows = new Int32Array(n);
  const visitedCols = new Int32Array(total);
  const heap = new ColumnHeap(total, dist, row4col);

  for (let cur = 0; cur < n; cur++) {
    if (col4row[cur] !== -1) continue;
    let numTouched = 0;
    let numRows = 0;
    let numCols = 0;
    let i = cur;
    let reach = 0; // path cost to row i (through the column it is assigned to)
    let sink = -1;
    for (;;) {
      visitedRows[numRows++] = i;
      const h = reach - u[i]!;
      // The row's pairs, then (e === end) its own dummy.
      const end = start[i + 1]!;
      for (let e = start[i]!; e <= end; e++) {
        const j = e < end ? col[e]! : m + i;
        if (settled[j] === 1) continue;
        const d = h + (e < end ? cost[e]! : bigM) - v[j]!;
        if (d < dist[j]!) {
          if (dist[j] === Infinity) touched[numTouched++] = j;
          dist[j] = d;
          path[j] = i;
          heap.upsert(j);
        }
      }
      // Never empty: the dummy of `cur` is free and reachable from it.
      const j = heap.pop();
      settled[j] = 1;
      visitedCols[numCols++] = j;
      reach = dist[j]!;
      if (row4col[j] === -1) {
        sink = j;
        break;
      }
      i = row4col[j]!;
    }
    const minVal = reach;

    // Duals: keep every tree pair tight and all reduced costs non-negative.
    u[cur] = u[cur]! + minVal;
    for (let k = 1; k < numRows; k++) {
      const r = visitedRows[k]!;
      u[r] = u[r]! + minVal - dist[col4row[r]!]!;
    }
    for (let k = 0; k < numCols; k++) {
      const j = visitedCols[k]!;
      v[j] = v[j]! - (minVal - dist[j]!);
      settled[j] = 0;
    }
    for (let k = 0; k < numTouched; k++) dist[touched[k]!] = Infinity;
    heap.clear();

    flip(sink, cur, path, row4col, col4row);
  }
  return col4row;
}

/**
 * A binary min-heap of column ids keyed by `dist`, with decrease-key. On equal
 * keys a free column comes first: it ends the search one row earlier.
 */
class ColumnHeap {
  readonly #items: Int32Array;
  readonly #pos: Int32Array; // index of a column in #items, -1 when absent
  #size = 0;

  constructor(
    capacity: number,
    private readonly dist: Float64Array,
    private readonly row4col: Int32Array,
  ) {
    this.#items = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity).fill(-1);
  }

  #before(a: number, b: number): boolean {
    const da = this.dist[a]!;
    const db = this.dist[b]!;
    return da < db || (da === db && this.row4col[a] === -1 && this.row4col[b] !== -1);
  }

  /** Inserts column j, or moves it up after its dist decreased. */
  upsert(j: number): void {
    let p = this.#pos[j]!;
    if (p === -1) p = this.#size++;
    const items = this.#items;
    while (p > 0) {
      const parent = (p - 1) >> 1;
      const q = items[parent]!;
      if (!this.#before(j, q)) break;
      items[p] = q;
      this.#pos[q] = p;
      p = parent;
    }
    items[p] = j;
    this.#pos[j] = p;
  }

  /** Removes and returns the first column; the heap must not be empty. */
  pop(): number {
    const items = this.#items;
    const top = items[0]!;
    this.#pos[top] = -1;
    const last = items[--this.#size]!;
    if (this.#size > 0) {
      let p = 0;
      for (;;) {
        let child = 2 * p + 1;
        if (child >= this.#size) break;
        if (child + 1 < this.#size && this.#before(items[child + 1]!, items[child]!)) child++;
        const c = items[child]!;
        if (!this.#before(c, last)) break;
        items[p] = c;
        this.#pos[c] = p;
        p = child;
      }
      items[p] = last;
      this.#pos[last] = p;
    }
    return top;
  }

  clear(): void {
    for (let k = 0; k < this.#size; k++) this.#pos[this.#items[k]!] = -1;
    this.#size = 0;
  }
}

