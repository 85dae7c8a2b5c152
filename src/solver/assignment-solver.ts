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
 * `linear_sum_assignment` uses), O(n²·m) for n rows ≤ m columns, started from
 * row minima so that most rows are settled before any path search. Two
 * implementations of the same search, chosen by density:
 *   dense  — a scan over every unsettled column per step, on a compact copy
 *            of the matrix (best when most pairs are feasible);
 *   sparse — Dijkstra with a binary heap over the feasible pairs only (best
 *            for dispatch: each order has its K nearest drivers).
 * Chosen over the `munkres` npm package by bench/solver.ts: the same optimum,
 * about 5× faster on dispatch-shaped 1000 × 1000 problems, on a par with it on
 * dense ones. (LAPJV's augmenting row reduction was tried and rejected: on
 * Euclidean ETAs it cycles through near-ties for seconds at 1000 × 1000.)
 *
 * Forbidden pairs and "most rows first" — big-M. Working rows are the side
 * with fewer live members (the matrix is read transposed when it has more
 * rows than columns; the problem is symmetric), so every working row can be
 * given some column. Feasible costs are shifted to [0, range]; a working row
 * that gets no feasible column pays M = (L + 1)·range + 1 instead, L being
 * the number of working rows. Any L shifted feasible costs sum to less than
 * M, so one unserved row fewer always outweighs any difference in feasible
 * cost: the optimum serves the most rows possible and, among those, has the
 * least total cost. (The shift does not change the winner: assignments that
 * serve the same number of rows all move by the same constant.)
 *   dense  — forbidden cells of the copy hold M; a row that ends on one is
 *            reported -1;
 *   sparse — each row has a private dummy column at cost M, which is what
 *            "a forbidden cell of some free column" amounts to:
 *
 *            real columns (feasible pairs only)   dummy columns
 *   row 0    c00  .    c02  …                     M   .   .
 *   row 1    .    c11  .    …                     .   M   .
 */

import { denseSap } from './dense-sap.js';
import { type Graph, sparseSap } from './sparse-sap.js';

/** Costs at or above this (and +Infinity) mark a forbidden pair. ETAs are seconds; 10⁹ s is 31 years. */
export const FORBIDDEN = 1e9;

/**
 * Share of feasible pairs from which the dense scan beats the heap search.
 * Measured on 1000 × 1000 city-shaped ETAs (each order's nearest drivers
 * feasible), ms dense / sparse: 5 % 237 / 83, 30 % 146 / 98, 50 % 110 / 151,
 * 100 % 144 / 271; on 300 × 600 the two cross between 30 % and 50 % as well.
 */
const DENSE_SHARE = 0.4;

/**
 * Above this the big-M objective (about L² · range) no longer has unit-level
 * resolution in a double (2⁵³ ≈ 9·10¹⁵), so "most rows first" could silently
 * fail; the solver refuses instead.
 */
const MAX_EXACT_OBJECTIVE = 2 ** 52;

export interface SolveOptions {
  /** Force one search (tests run both on the same problems); default: by density. */
  method?: 'dense' | 'sparse';
}

function checkShape(cost: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new RangeError(`cols must be a non-negative integer, got ${cols}`);
  if (cost.length !== rows * cols) {
    throw new RangeError(`cost has ${cost.length} entries, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
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
  const result = new Int32Array(rows).fill(-1);

  // Pass 1: the feasible range, and how many pairs each row and column has.
  const rowDegree = new Int32Array(rows);
  const colDegree = new Int32Array(cols);
  let min = Infinity;
  let max = -Infinity;
  let feasible = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (x < FORBIDDEN) {
        rowDegree[r]!++;
        colDegree[c]!++;
        feasible++;
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

  const liveRows = indicesOf(rowDegree);
  const liveCols = indicesOf(colDegree);
  const transposed = liveRows.length > liveCols.length;
  const input: Input = { cost, cols, transposed, min };
  // Working rows and columns: the live members of each side, as original indices.
  const wRows = transposed ? liveCols : liveRows;
  const wCols = transposed ? liveRows : liveCols;
  const n = wRows.length;
  const m = wCols.length;
  const range = max - min;
  const bigM = (n + 1) * range + 1;
  if (n * bigM > MAX_EXACT_OBJECTIVE) {
    throw new RangeError(`finite costs span ${range}, too wide to rank assignments exactly; rescale the costs or mark far pairs forbidden`);
  }

  const dense = options.method === undefined ? feasible >= DENSE_SHARE * n * m : options.method === 'dense';
  const col4row = dense ? denseSap(denseCopy(input, wRows, wCols, bigM), n, m) : sparseSap(sparseCopy(input, rowDegree, colDegree, wRows, wCols), n, m, bigM);

  for (let i = 0; i < n; i++) {
    const j = col4row[i]!;
    if (j >= m) continue; // sparse: left on its dummy
    const r = transposed ? wCols[j]! : wRows[i]!;
    const c = transposed ? wRows[i]! : wCols[j]!;
    if (cost[r * cols + c]! < FORBIDDEN) result[r] = c; // dense: a forbidden cell means unserved
  }
  return result;
}

/** Indices of the non-zero entries. */
function indicesOf(degree: Int32Array): Int32Array {
  let count = 0;
  for (let i = 0; i < degree.length; i++) if (degree[i] !== 0) count++;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; i < degree.length; i++) if (degree[i] !== 0) out[k++] = i;
  return out;
}

/** The caller's matrix and how to read it: working pair (i, j) is original (j, i) when transposed. */
interface Input {
  cost: Float64Array;
  cols: number;
  transposed: boolean;
  /** Subtracted from every feasible cost so that they are ≥ 0. */
  min: number;
}

/** The working matrix, n × m row-major: shifted feasible costs, bigM for forbidden pairs. */
function denseCopy(d: Input, wRows: Int32Array, wCols: Int32Array, bigM: number): Float64Array {
  const n = wRows.length;
  const m = wCols.length;
  const { cost, cols, transposed, min } = d;
  const w = new Float64Array(n * m);
  // Read the caller's matrix in its own row order (sequential) either way.
  const outer = transposed ? wCols : wRows;
  const inner = transposed ? wRows : wCols;
  const [outerStride, innerStride] = transposed ? [1, m] : [m, 1];
  for (let a = 0; a < outer.length; a++) {
    const base = outer[a]! * cols;
    for (let b = 0; b < inner.length; b++) {
      const x = cost[base + inner[b]!]!;
      w[a * outerStride + b * innerStride] = x < FORBIDDEN ? x - min : bigM;
    }
  }
  return w;
}

/** The feasible pairs between working rows and columns, columns ascending. */
function sparseCopy(d: Input, rowDegree: Int32Array, colDegree: Int32Array, wRows: Int32Array, wCols: Int32Array): Graph {
  const n = wRows.length;
  const { cost, cols, transposed, min } = d;
  const degree = transposed ? colDegree : rowDegree;
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i]! + degree[wRows[i]!]!;
  const fill = start.slice(0, n);
  // Original index → working index, per side.
  const rows = rowDegree.length;
  const rowOf = new Int32Array(transposed ? cols : rows);
  for (let i = 0; i < n; i++) rowOf[wRows[i]!] = i;
  const colOf = new Int32Array(transposed ? rows : cols);
  for (let j = 0; j < wCols.length; j++) colOf[wCols[j]!] = j;
  const col = new Int32Array(start[n]!);
  const w = new Float64Array(start[n]!);
  // One sequential read of the caller's matrix; in both orientations each
  // working row receives its columns in ascending order.
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const x = cost[base + c]!;
      if (!(x < FORBIDDEN)) continue;
      const i = transposed ? rowOf[c]! : rowOf[r]!;
      const e = fill[i]!++;
      col[e] = transposed ? colOf[r]! : colOf[c]!;
      w[e] = x - min;
    }
  }
  return { start, col, cost: w };
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
