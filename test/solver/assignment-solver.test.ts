import { describe, expect, it } from 'vitest';
import { FORBIDDEN, greedyAssignment, solveAssignment, totalCost, type SolveOptions } from '../../src/solver/assignment-solver.js';
import { mulberry32 } from '../../src/simulator/rng.js';

const X = Infinity;

/** Both searches must give the same optimum; `undefined` is the solver's own choice by density. */
const METHODS: SolveOptions['method'][] = ['dense', 'sparse', undefined];

function matrix(table: number[][]): { cost: Float64Array; rows: number; cols: number } {
  const rows = table.length;
  const cols = table[0]?.length ?? 0;
  return { cost: Float64Array.from(table.flat()), rows, cols };
}

function assignedCount(a: Int32Array): number {
  return a.reduce((n, c) => (c >= 0 ? n + 1 : n), 0);
}

/** Every column at most once, and only feasible pairs. */
function expectValid(cost: Float64Array, cols: number, a: Int32Array): void {
  const seen = new Set<number>();
  for (let r = 0; r < a.length; r++) {
    const c = a[r]!;
    if (c < 0) continue;
    expect(c).toBeLessThan(cols);
    expect(seen.has(c), `column ${c} given twice`).toBe(false);
    seen.add(c);
    expect(cost[r * cols + c]!).toBeLessThan(FORBIDDEN);
  }
}

/**
 * The best (assigned rows, total cost), lexicographically, over every way of
 * giving each row a distinct column or none: (cols+1)^rows at most, fine ≤ 9×9.
 */
function bruteForce(cost: Float64Array, rows: number, cols: number): { count: number; total: number } {
  let best = { count: -1, total: Infinity };
  const used = new Uint8Array(cols);
  const walk = (r: number, count: number, total: number): void => {
    // Even assigning every remaining row cannot beat the best count: prune.
    if (count + (rows - r) < best.count) return;
    if (r === rows) {
      if (count > best.count || (count === best.count && total < best.total)) best = { count, total };
      return;
    }
    for (let c = 0; c < cols; c++) {
      const x = cost[r * cols + c]!;
      if (used[c] === 1 || !(x < FORBIDDEN)) continue;
      used[c] = 1;
      walk(r + 1, count + 1, total + x);
      used[c] = 0;
    }
    walk(r + 1, count, total);
  };
  walk(0, 0, 0);
  return best;
}

/** Random integer ETAs in [0, 600) s; each pair forbidden with probability pForbidden. */
function randomProblem(rand: () => number, rows: number, cols: number, pForbidden: number): Float64Array {
  const cost = new Float64Array(rows * cols);
  for (let k = 0; k < cost.length; k++) cost[k] = rand() < pForbidden ? Infinity : Math.floor(rand() * 600);
  return cost;
}

describe('solveAssignment: known problems', () => {
  const cases: { name: string; table: number[][]; expected: number[]; total: number }[] = [
    { name: '1×1', table: [[7]], expected: [0], total: 7 },
    {
      name: 'square 3×3 (greedy would take 1 first and pay 1 + 4 + 9)',
      table: [
        [1, 2, 3],
        [2, 4, 6],
        [3, 6, 9],
      ],
      expected: [2, 1, 0],
      total: 10,
    },
    {
      name: 'square 4×4 classic',
      table: [
        [82, 83, 69, 92],
        [77, 37, 49, 92],
        [11, 69, 5, 86],
        [8, 9, 98, 23],
      ],
      expected: [2, 1, 0, 3],
      total: 140,
    },
    {
      name: 'wide 2×4: rows fewer than columns',
      table: [
        [10, 3, 8, 9],
        [2, 4, 7, 1],
      ],
      expected: [1, 3],
      total: 4,
    },
    {
      name: 'tall 4×2: rows more than columns, the two cheapest-together rows win',
      table: [
        [5, 6],
        [1, 9],
        [8, 2],
        [3, 3],
      ],
      expected: [-1, 0, 1, -1],
      total: 3,
    },
    {
      name: 'forbidden pairs force the expensive column',
      table: [
        [1, X, X],
        [2, 50, X],
        [X, 1, 30],
      ],
      expected: [0, 1, 2],
      total: 81,
    },
    {
      name: 'a row with every column forbidden gets -1',
      table: [
        [X, X, X],
        [4, 1, 7],
        [2, 8, 3],
      ],
      expected: [-1, 1, 0],
      total: 3,
    },
    {
      name: 'values ≥ FORBIDDEN count as forbidden',
      table: [
        [FORBIDDEN, 5],
        [1, FORBIDDEN * 10],
      ],
      expected: [1, 0],
      total: 6,
    },
    {
      name: 'more assigned rows beat a lower total (cardinality first)',
      table: [
        [1, 100],
        [2, X],
      ],
      expected: [1, 0],
      total: 102,
    },
    {
      name: 'fewer feasible columns than rows: the cheapest feasible set wins',
      table: [
        [4, X, X],
        [3, X, X],
        [5, 1, X],
      ],
      expected: [-1, 0, 1],
      total: 4,
    },
    {
      name: 'all forbidden',
      table: [
        [X, X],
        [X, X],
      ],
      expected: [-1, -1],
      total: 0,
    },
    {
      name: 'negative costs are allowed',
      table: [
        [-5, 0],
        [-1, -4],
      ],
      expected: [0, 1],
      total: -9,
    },
  ];

  it.each(cases)('$name', ({ table, expected, total }) => {
    const { cost, rows, cols } = matrix(table);
    for (const method of METHODS) {
      const a = solveAssignment(cost, rows, cols, { method });
      expect(Array.from(a), `method ${method}`).toEqual(expected);
      expect(totalCost(cost, cols, a)).toBe(total);
    }
  });

  it('ties: every row assigned, total is the unique optimum, and the answer is deterministic', () => {
    const { cost, rows, cols } = matrix([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    const a = solveAssignment(cost, rows, cols);
    expectValid(cost, cols, a);
    expect(assignedCount(a)).toBe(3);
    expect(totalCost(cost, cols, a)).toBe(3);
    expect(Array.from(solveAssignment(cost, rows, cols))).toEqual(Array.from(a));
  });

  it('empty problems', () => {
    expect(Array.from(solveAssignment(new Float64Array(0), 0, 5))).toEqual([]);
    expect(Array.from(solveAssignment(new Float64Array(0), 3, 0))).toEqual([-1, -1, -1]);
  });

  it('does not modify the cost matrix', () => {
    const { cost, rows, cols } = matrix([
      [3, X],
      [1, 2],
    ]);
    const copy = cost.slice();
    solveAssignment(cost, rows, cols);
    expect(Array.from(cost)).toEqual(Array.from(copy));
  });

  it.each([
    { name: 'a length that is not rows × cols', cost: new Float64Array(5), rows: 2, cols: 3, message: /expected rows × cols = 2 × 3 = 6/ },
    { name: 'a negative row count', cost: new Float64Array(0), rows: -1, cols: 0, message: /rows must be a non-negative integer/ },
    { name: 'a fractional column count', cost: new Float64Array(0), rows: 0, cols: 1.5, message: /cols must be a non-negative integer/ },
    { name: 'NaN', cost: Float64Array.from([1, NaN]), rows: 1, cols: 2, message: /cost\[0\]\[1\] is NaN/ },
    { name: '-Infinity', cost: Float64Array.from([-Infinity]), rows: 1, cols: 1, message: /cost\[0\]\[0\] is -Infinity/ },
    { name: 'a range too wide for exact big-M', cost: Float64Array.from([-1e16, 0, 0, 0]), rows: 2, cols: 2, message: /too wide/ },
  ])('rejects $name', ({ cost, rows, cols, message }) => {
    expect(() => solveAssignment(cost, rows, cols)).toThrow(message);
  });
});

describe('solveAssignment: random problems against brute force', () => {
  const rand = mulberry32(20261127);
  const shapes: [number, number][] = [];
  for (let rows = 1; rows <= 9; rows++) {
    for (const cols of new Set([1, Math.max(1, rows - 3), rows, Math.min(9, rows + 2), 9])) shapes.push([rows, cols]);
  }

  it.each(shapes)('%i × %i, dense, with 20 % and with 60 % forbidden pairs', (rows, cols) => {
    // (cols+1)^rows grows fast; fewer repetitions for the biggest shapes keep the file under seconds.
    const reps = rows * cols > 40 ? 3 : 10;
    for (const pForbidden of [0, 0.2, 0.6]) {
      for (let rep = 0; rep < reps; rep++) {
        const cost = randomProblem(rand, rows, cols, pForbidden);
        const best = bruteForce(cost, rows, cols);
        for (const method of METHODS) {
          const a = solveAssignment(cost, rows, cols, { method });
          expectValid(cost, cols, a);
          expect(assignedCount(a), `method ${method}`).toBe(best.count);
          expect(totalCost(cost, cols, a), `method ${method}`).toBe(best.total);
        }
      }
    }
  });

  it('real-valued costs with many ties (values from a 3-element set)', () => {
    for (let rep = 0; rep < 50; rep++) {
      const rows = 2 + Math.floor(rand() * 6);
      const cols = 2 + Math.floor(rand() * 6);
      const cost = new Float64Array(rows * cols);
      for (let k = 0; k < cost.length; k++) cost[k] = [0.5, 1.25, X][Math.floor(rand() * 3)]!;
      const best = bruteForce(cost, rows, cols);
      for (const method of METHODS) {
        const a = solveAssignment(cost, rows, cols, { method });
        expectValid(cost, cols, a);
        expect(assignedCount(a), `method ${method}`).toBe(best.count);
        expect(totalCost(cost, cols, a), `method ${method}`).toBe(best.total);
      }
    }
  });
});

describe('solveAssignment: dense and sparse searches agree on larger problems', () => {
  it.each([
    [40, 60, 0],
    [60, 40, 0.5],
    [50, 50, 0.9],
    [30, 90, 0.97],
  ])('%i × %i with %d forbidden', (rows, cols, pForbidden) => {
    const rand = mulberry32(rows * 1000 + cols);
    for (let rep = 0; rep < 10; rep++) {
      const cost = randomProblem(rand, rows, cols, pForbidden);
      const dense = solveAssignment(cost, rows, cols, { method: 'dense' });
      const sparse = solveAssignment(cost, rows, cols, { method: 'sparse' });
      expectValid(cost, cols, dense);
      expectValid(cost, cols, sparse);
      expect(assignedCount(sparse)).toBe(assignedCount(dense));
      expect(totalCost(cost, cols, sparse)).toBe(totalCost(cost, cols, dense));
    }
  });
});

describe('greedyAssignment', () => {
  it('each row in order takes its cheapest free feasible column', () => {
    const { cost, rows, cols } = matrix([
      [1, 2, 3],
      [1, X, 6],
      [X, X, 9],
      [1, 1, 1],
    ]);
    expect(Array.from(greedyAssignment(cost, rows, cols))).toEqual([0, 2, -1, 1]);
  });

  it('solve is never worse than greedy (50 × 80, K nearest feasible and dense)', () => {
    const rand = mulberry32(7);
    const rows = 50;
    const cols = 80;
    for (let rep = 0; rep < 40; rep++) {
      // Dispatch-shaped: every order can use only its K cheapest drivers.
      const k = rep % 2 === 0 ? 5 : cols;
      const cost = randomProblem(rand, rows, cols, 0);
      for (let r = 0; r < rows; r++) {
        const row = cost.subarray(r * cols, (r + 1) * cols);
        const kth = Float64Array.from(row).sort()[k - 1]!;
        for (let c = 0; c < cols; c++) if (row[c]! > kth) row[c] = Infinity;
      }
      const solved = solveAssignment(cost, rows, cols);
      const greedy = greedyAssignment(cost, rows, cols);
      expectValid(cost, cols, solved);
      expectValid(cost, cols, greedy);
      expect(assignedCount(solved)).toBeGreaterThanOrEqual(assignedCount(greedy));
      if (assignedCount(solved) === assignedCount(greedy)) {
        expect(totalCost(cost, cols, solved)).toBeLessThanOrEqual(totalCost(cost, cols, greedy));
      }
    }
  });
});
