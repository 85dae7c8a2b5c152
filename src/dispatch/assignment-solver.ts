/**
 * Minimum-cost rectangular assignment on typed arrays: which driver (column)
 * each order (row) gets so that as many orders as possible are served and,
 * among those assignments, the total cost (pickup ETA) is smallest.
 *
 * Cost matrix layout: row-major, `cost[r * cols + c]` is the cost of giving
 * column `c` to row `r`; a cost ≥ FORBIDDEN (or Infinity) forbids the pair.
 *
 *            col 0   col 1   col 2        cols = 3
 *   row 0  [  c00  ,  c01  ,  c02  ,      cost[0..2]
 *   row 1     c10  ,  c11  ,  c12  ]      cost[3..5]
 *
 * Algorithm: successive shortest augmenting paths with dual potentials
 * (Jonker–Volgenant; the rectangular form of Crouse, "On implementing 2D
 * rectangular assignment algorithms", IEEE TAES 2016, which SciPy's
 * `linear_sum_assignment` uses), O(n²·m) in the worst case, run on the sparse
 * graph of feasible pairs with a binary heap (Dijkstra), and started from row
 * minima so that most rows are settled before any path search.
 *
 * Forbidden pairs and "most rows first" — big-M with private dummy columns:
 *
 *   working rows = the smaller side (the matrix is read transposed when it
 *   has more rows than columns; the problem is symmetric)
 *
 *            real columns (feasible pairs only)   dummy columns
 *   row 0    c00  .    c02  …                     M   .   .
 *   row 1    .    c11  .    …                     .   M   .
 *   row 2    .    .    .    …  (all forbidden)    .   .   M
 *
 * Each row may always take its own dummy at cost M = (L + 1)·range + 1, where
 * range is the spread of the feasible costs and L the number of working rows:
 * any L feasible costs (shifted to [0, range]) sum to less than M, so one
 * dummy fewer always outweighs any difference in feasible cost. The optimum
 * therefore serves the largest possible number of rows and, among those, has
 * the least total cost; rows left on a dummy are reported as -1. (The shift
 * does not change the winner: assignments serving the same number of rows
 * all move by the same constant.)
 *
 * Dense rows (far more feasible pairs than an assignment needs) are first
 * solved on their `candidates` cheapest pairs only; the duals of that
 * solution are then priced against every feasible pair, pairs with a negative
 * reduced cost are added and the problem is solved again, until none is left
 * — at which point the solution is optimal for the full matrix (LP duality).
 * On dispatch-shaped costs one or two rounds suffice; after MAX_ROUNDS the
 * solver falls back to every feasible pair.
 */

/** Costs at or above this (and +Infinity) mark a forbidden pair. ETAs are seconds; 10⁹ s is 31 years. */
export const FORBIDDEN = 1e9;

/**
 * The default number of cheapest pairs per row kept in the first round when a
 * row is dense. Measured in bench/solver.ts: on city-shaped ETAs the optimal
 * driver is almost always among an order's nearest few, and a small graph
 * keeps each path search short; larger values only slow the first round.
 */
export const DEFAULT_CANDIDATES = 12;

/** Pricing rounds before giving up on sparsification and solving on every feasible pair. */
const MAX_ROUNDS = 6;

/**
 * Above this the big-M objective (about L² · range) no longer has unit-level
 * resolution in a double (2⁵³ ≈ 9·10¹⁵), so "most rows first" could silently
 * fail; the solver refuses instead.
 */
const MAX_EXACT_OBJECTIVE = 2 ** 52;

export interface SolveOptions {
  /** Cheapest pairs per dense row in the first round (≥ 1); default DEFAULT_CANDIDATES. */
  candidates?: number;
}

function checkShape(cost: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new RangeError(`cols must be a non-negative integer, got ${cols}`);
  if (cost.length !== rows * cols) {
    throw new RangeError(`cost has ${cost.length} entries, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
}

/**
 * Feasible pairs as compressed sparse rows: row i's pairs are
 * `col[start[i]] … col[start[i + 1] - 1]`, with costs in `cost`.
 */
interface Graph {
  start: Int32Array;
  col: Int32Array;
  cost: Float64Array;
}

/**
 * The optimal assignment: for each row the column it gets, or -1.
 *
 * Guarantees: no column is given to two rows; only feasible pairs (cost <
 * FORBIDDEN) are returned; the number of assigned rows is the largest
 * possible; among assignments of that size the total cost is the least.
 * Same input, same output. The input is not modified. Throws RangeError on a
 * shape mismatch, on NaN or -Infinity costs, or when the finite costs span so
 * wide a range (≳ 2⁵² / L²) that the big-M objective would lose precision.
 */
export function solveAssignment(cost: Float64Array, rows: number, cols: number, options: SolveOptions = {}): Int32Array {
  checkShape(cost, rows, cols);
  const candidates = options.candidates ?? DEFAULT_CANDIDATES;
  if (!Number.isInteger(candidates) || candidates < 1) throw new RangeError(`candidates must be an integer ≥ 1, got ${candidates}`);
  const result = new Int32Array(rows).fill(-1);

  // Pass 1: the feasible range, and how many pairs each row and column has.
  const rowDegree = new Int32Array(rows);
  const colDegree = new Int32Array(cols);
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (x < FORBIDDEN) {
        rowDegree[r]!++;
        colDegree[c]!++;
        if (x < min) min = x;
        if (x > max) max = x;
      } else if (x !== Infinity && !(x >= FORBIDDEN)) {
        throw new RangeError(`cost[${r}][${c}] is ${x}; costs must be numbers below FORBIDDEN, or Infinity for a forbidden pair`);
      }
    }
  }
  if (min === -Infinity) {
    const at = cost.indexOf(-Infinity);
    throw new RangeError(`cost[${Math.floor(at / cols)}][${at % cols}] is -Infinity; costs must be numbers below FORBIDDEN, or Infinity for a forbidden pair`);
  }
  if (min === Infinity) return result;

  // Work on the side with fewer live members as rows: fewer path searches.
  const liveRows = countNonZero(rowDegree);
  const liveCols = countNonZero(colDegree);
  const transposed = liveRows > liveCols;
  const n = transposed ? cols : rows;
  const m = transposed ? rows : cols;
  const range = max - min;
  const bigM = (Math.min(liveRows, liveCols) + 1) * range + 1;
  if (Math.min(liveRows, liveCols) * bigM > MAX_EXACT_OBJECTIVE) {
    throw new RangeError(`finite costs span ${range}, too wide to rank assignments exactly; rescale the costs or mark far pairs forbidden`);
  }

  const input: Input = { cost, rows, cols, transposed, min };
  const T0 = performance.now();
  const degree = transposed ? colDegree : rowDegree;
  let widest = 0;
  for (let i = 0; i < n; i++) if (degree[i]! > widest) widest = degree[i]!;
  // Rows with up to twice `candidates` pairs are solved on all of them at
  // once: pruning would save less than a pricing pass costs.
  let exact = widest <= 2 * candidates;
  let graph = exact ? feasibleGraph(input, degree) : candidateGraph(input, n, m, candidates);
  // Dual values are sums of at most n path costs below M; a reduced cost more
  // negative than this is a real violation, not rounding.
  const eps = 1e-9 * bigM;
  let col4row: Int32Array;
  for (let round = 1; ; round++) {
    const solution = shortestAugmentingPaths(graph, n, m, bigM);
    col4row = solution.col4row;
    if (exact) break;
    const violations = priceOut(input, n, solution, eps, candidates);
    if (process.env.SOLVER_DEBUG) console.error('DEBUG t', (performance.now() - T0).toFixed(1), 'round', round, 'edges', graph.col.length, 'violations', violations?.total() ?? 0, 'dummies', solution.col4row.filter((j) => j >= m).length);
    if (violations === null) break;
    if (round < MAX_ROUNDS) {
      graph = withPairs(input, graph, violations);
    } else {
      graph = feasibleGraph(input, degree);
      exact = true;
    }
  }

  for (let i = 0; i < n; i++) {
    const j = col4row[i]!;
    if (j >= m) continue; // left on its dummy: unassigned
    if (transposed) result[j] = i;
    else result[i] = j;
  }
  return result;
}

function countNonZero(a: Int32Array): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) k++;
  return k;
}

/**
 * The caller's matrix seen in working orientation: working pair (i, j) is
 * `cost[j * cols + i]` when transposed, else `cost[i * cols + j]`. Graph
 * costs are shifted by -min so that they are ≥ 0.
 */
interface Input {
  cost: Float64Array;
  rows: number;
  cols: number;
  transposed: boolean;
  min: number;
}

/** Every feasible pair, rows in working orientation, columns ascending. */
function feasibleGraph(d: Input, degree: Int32Array): Graph {
  const n = degree.length;
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i]! + degree[i]!;
  const fill = start.slice(0, n);
  const col = new Int32Array(start[n]!);
  const w = new Float64Array(start[n]!);
  const { cost, rows, cols, transposed, min } = d;
  // One sequential read of the matrix either way; transposed rows fill in column order.
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (!(x < FORBIDDEN)) continue;
      const i = transposed ? c : r;
      const e = fill[i]!++;
      col[e] = transposed ? r : c;
      w[e] = x - min;
    }
  }
  return { start, col, cost: w };
}

/**
 * The first-round graph for dense rows: each row's k cheapest pairs plus each
 * column's k cheapest pairs. The column side matters: with rows alone, a
 * driver that is no order's favourite is unreachable and some order may find
 * every one of its k drivers taken, which costs a dummy and a round.
 */
function candidateGraph(d: Input, n: number, m: number, k: number): Graph {
  const byRow = new SmallestK(n, k);
  const byCol = new SmallestK(m, k);
  const { cost, rows, cols, transposed } = d;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (!(x < FORBIDDEN)) continue;
      const i = transposed ? c : r;
      const j = transposed ? r : c;
      byRow.offer(i, x, j);
      byCol.offer(j, x, i);
    }
  }
  // Group the column side by row (counting sort), then merge without duplicates.
  const colSideStart = new Int32Array(n + 1);
  for (let j = 0; j < m; j++) for (let s = 0; s < byCol.count[j]!; s++) colSideStart[byCol.ids[j * k + s]! + 1]!++;
  for (let i = 0; i < n; i++) colSideStart[i + 1]! += colSideStart[i]!;
  const colSide = new Int32Array(colSideStart[n]!);
  const fill = colSideStart.slice(0, n);
  for (let j = 0; j < m; j++) for (let s = 0; s < byCol.count[j]!; s++) colSide[fill[byCol.ids[j * k + s]!]!++] = j;

  // A greedy matching guarantees round 1 a perfect matching on real columns
  // whenever the whole matrix has one; dummies there would inflate the duals.
  const greedy = greedyAssignment(d.cost, rows, cols);
  const greedyCol = new Int32Array(n).fill(-1);
  for (let r = 0; r < rows; r++) {
    const c = greedy[r]!;
    if (c === -1) continue;
    if (transposed) greedyCol[c] = r;
    else greedyCol[r] = c;
  }

  const size = colSide.length + n * (k + 1);
  const start = new Int32Array(n + 1);
  const col = new Int32Array(size);
  const w = new Float64Array(size);
  const seen = new Int32Array(m).fill(-1);
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < byRow.count[i]!; s++) {
      const j = byRow.ids[i * k + s]!;
      seen[j] = i;
      col[e] = j;
      w[e++] = byRow.keys[i * k + s]! - d.min;
    }
    for (let s = colSideStart[i]!; s < colSideStart[i + 1]!; s++) {
      const j = colSide[s]!;
      if (seen[j] === i) continue;
      col[e] = j;
      seen[j] = i;
      col[e] = j;
      w[e++] = costAt(d, i, j) - d.min;
    }
    const j = greedyCol[i]!;
    if (j !== -1 && seen[j] !== i) {
      col[e] = j;
      w[e++] = costAt(d, i, j) - d.min;
    }
    start[i + 1] = e;
  }
  return { start, col: col.subarray(0, e), cost: w.subarray(0, e) };
}

function costAt(d: Input, i: number, j: number): number {
  return d.transposed ? d.cost[j * d.cols + i]! : d.cost[i * d.cols + j]!;
}

/**
 * Pairs the current duals do not price out (reduced cost below -eps): for
 * each row the k most negative; null when there is none anywhere, i.e. the
 * solution is optimal for the whole matrix. Free real columns keep v = 0 and
 * every v ≤ 0, so the pairs are all that optimality still needs checking.
 * Capping at k per row keeps a row that sat on its dummy (its u is about M,
 * so every pair it has looks violated) from pulling its whole row in.
 */
function priceOut(d: Input, n: number, duals: Duals, eps: number, k: number): SmallestK | null {
  const { cost, rows, cols, transposed, min } = d;
  const { u, v } = duals;
  let found: SmallestK | null = null;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (!(x < FORBIDDEN)) continue;
      const i = transposed ? c : r;
      const j = transposed ? r : c;
      const reduced = x - min - u[i]! - v[j]!;
      if (reduced < -eps) (found ??= new SmallestK(n, k)).offer(i, reduced, j);
    }
  }
  return found;
}

/** `graph` plus the pairs listed per row in `extra`. */
function withPairs(d: Input, graph: Graph, extra: SmallestK): Graph {
  const n = graph.start.length - 1;
  const size = graph.col.length + extra.total();
  const start = new Int32Array(n + 1);
  const col = new Int32Array(size);
  const w = new Float64Array(size);
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let f = graph.start[i]!; f < graph.start[i + 1]!; f++, e++) {
      col[e] = graph.col[f]!;
      w[e] = graph.cost[f]!;
    }
    for (let s = 0; s < extra.count[i]!; s++, e++) {
      const j = extra.ids[i * extra.k + s]!;
      col[e] = j;
      w[e] = costAt(d, i, j) - d.min;
    }
    start[i + 1] = e;
  }
  return { start, col, cost: w };
}

/**
 * For each of `groups` groups, the k entries with the smallest keys offered
 * so far (unordered; on equal keys the first offered stays). Offers that do
 * not beat the group's current worst cost two comparisons, which is nearly
 * all of them once a group is full.
 */
class SmallestK {
  readonly keys: Float64Array;
  readonly ids: Int32Array;
  readonly count: Int32Array;
  readonly #worst: Int32Array; // slot of the largest key of a full group

  constructor(
    groups: number,
    readonly k: number,
  ) {
    this.keys = new Float64Array(groups * k);
    this.ids = new Int32Array(groups * k);
    this.count = new Int32Array(groups);
    this.#worst = new Int32Array(groups);
  }

  offer(group: number, key: number, id: number): void {
    const k = this.k;
    const base = group * k;
    const n = this.count[group]!;
    let slot: number;
    if (n < k) {
      slot = n;
      this.count[group] = n + 1;
    } else {
      slot = this.#worst[group]!;
      if (!(key < this.keys[base + slot]!)) return;
    }
    this.keys[base + slot] = key;
    this.ids[base + slot] = id;
    if (n + 1 >= k) {
      let worst = 0;
      for (let s = 1; s < k; s++) if (this.keys[base + s]! > this.keys[base + worst]!) worst = s;
      this.#worst[group] = worst;
    }
  }

  total(): number {
    let t = 0;
    for (let g = 0; g < this.count.length; g++) t += this.count[g]!;
    return t;
  }
}

interface Duals {
  col4row: Int32Array;
  u: Float64Array;
  v: Float64Array;
}

/**
 * Assigns every one of n rows to a distinct column: a real column 0..m-1
 * through a pair of `g`, or its own dummy column m + i at cost `bigM`.
 * Minimises the total cost (all costs finite and ≥ 0).
 *
 * Invariants (rectangular LP duality): u[i] + v[j] ≤ cost of every pair, with
 * equality on assigned pairs; v[j] ≤ 0 everywhere and v[j] = 0 on free
 * columns — what makes a partial assignment optimal when columns may stay
 * free. Each free row is added by one Dijkstra search over reduced costs to
 * the nearest free column, then the path is flipped and the duals updated so
 * the invariants hold again.
 */
function shortestAugmentingPaths(g: Graph, n: number, m: number, bigM: number): Duals {
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

    // Flip the alternating path from the sink back to `cur`.
    let j = sink;
    for (;;) {
      const r = path[j]!;
      row4col[j] = r;
      const prev = col4row[r]!;
      col4row[r] = j;
      if (r === cur) break;
      j = prev;
    }
  }
  return { col4row, u, v };
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

/**
 * Order-by-order baseline: each row, in index order, takes its cheapest
 * feasible column not yet taken (lowest index on ties), or -1 if none is left.
 * What dispatch would do without batching; at the same number of assigned
 * rows the solver is never worse.
 */
export function greedyAssignment(cost: Float64Array, rows: number, cols: number): Int32Array {
  checkShape(cost, rows, cols);
  const result = new Int32Array(rows).fill(-1);
  const taken = new Uint8Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = -1;
    let bestCost = FORBIDDEN;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (x < bestCost && taken[c] === 0) {
        bestCost = x;
        best = c;
      }
    }
    if (best !== -1) {
      taken[best] = 1;
      result[r] = best;
    }
  }
  return result;
}

/** Sum of the costs of the assigned pairs (rows with -1 add nothing). */
export function totalCost(cost: Float64Array, cols: number, assignment: Int32Array): number {
  let sum = 0;
  for (let r = 0; r < assignment.length; r++) {
    const c = assignment[r]!;
    if (c >= 0) sum += cost[r * cols + c]!;
  }
  return sum;
}
