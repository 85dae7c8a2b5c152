/**
 * The dense shortest-augmenting-path search of the assignment solver (see
 * assignment-solver.ts for how problems reach it).
 */

/**
 * Assigns every one of n rows to a distinct column of m ≥ n, minimising the
 * sum of the finite, non-negative costs `w` (n × m row-major). Returns the
 * column of each row.
 *
 * Invariants (rectangular LP duality): u[i] + v[j] ≤ w[i][j] for all pairs,
 * with equality on assigned pairs; v[j] ≤ 0 everywhere and v[j] = 0 on free
 * columns — what makes a partial assignment optimal when columns may stay
 * free. Each free row is added by one Dijkstra search over reduced costs to
 * the nearest free column; the path is flipped and the duals updated so the
 * invariants hold again.
 */
export function denseSap(w: Float64Array, n: number, m: number): Int32Array {
  const u = new Float64Array(n);
  const v = new Float64Array(m);
  const col4row = new Int32Array(n).fill(-1);
  const row4col = new Int32Array(m).fill(-1);

  // Start: u[i] = row minimum (v = 0 keeps duals feasible); a row whose
  // cheapest column is still free takes it, the pair being tight.
  for (let i = 0; i < n; i++) {
    const base = i * m;
    let best = 0;
    let bestCost = w[base]!;
    for (let j = 1; j < m; j++) {
      const x = w[base + j]!;
      if (x < bestCost) {
        bestCost = x;
        best = j;
      }
    }
    u[i] = bestCost;
    if (row4col[best] === -1) {
      row4col[best] = i;
      col4row[i] = best;
    }
  }

  const dist = new Float64Array(m); // reduced path cost to each column
  const path = new Int32Array(m); // the row each column was reached from
  const remaining = new Int32Array(m); // columns not yet settled, unordered
  const visitedRows = new Int32Array(n);
  const visitedCols = new Int32Array(m);

  for (let cur = 0; cur < n; cur++) {
    if (col4row[cur] !== -1) continue;
    dist.fill(Infinity);
    for (let k = 0; k < m; k++) remaining[k] = k;
    let numRemaining = m;
    let numRows = 0;
    let numCols = 0;
    let minVal = 0;
    let i = cur;
    let sink = -1;
    while (sink === -1) {
      visitedRows[numRows++] = i;
      const base = i * m;
      const h = minVal - u[i]!;
      let lowest = Infinity;
      let index = -1;
      for (let k = 0; k < numRemaining; k++) {
        const j = remaining[k]!;
        const r = h + w[base + j]! - v[j]!;
        let d = dist[j]!;
        if (r < d) {
          path[j] = i;
          dist[j] = r;
          d = r;
        }
        // Prefer a free column on ties: it ends the search one row earlier.
        if (d < lowest || (d === lowest && row4col[j] === -1)) {
          lowest = d;
          index = k;
        }
      }
      minVal = lowest;
      const j = remaining[index]!;
      remaining[index] = remaining[--numRemaining]!;
      visitedCols[numCols++] = j;
      if (row4col[j] === -1) sink = j;
      else i = row4col[j]!;
    }

    // Duals: keep every tree pair tight and all reduced costs non-negative.
    u[cur] = u[cur]! + minVal;
    for (let k = 1; k < numRows; k++) {
      const r = visitedRows[k]!;
      u[r] = u[r]! + minVal - dist[col4row[r]!]!;
    }
    for (let k = 0; k < numCols; k++) {
      const j = visitedCols[k]!;
      v[j] = v[j]! - (minVal - dist[j]!);
    }
    flip(sink, cur, path, row4col, col4row);
  }
  return col4row;
}

/** Flips the alternating path that ends at free column `sink` back to row `cur`. */
export function flip(sink: number, cur: number, path: Int32Array, row4col: Int32Array, col4row: Int32Array): void {
  let j = sink;
  for (;;) {
    const r = path[j]!;
    row4col[j] = r;
    const prev = col4row[r]!;
    col4row[r] = j;
    if (r === cur) return;
    j = prev;
  }
}

