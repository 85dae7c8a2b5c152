import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DispatchPool, resolveWorkerFile } from '../../src/matching/dispatch-pool.js';
import { solveAssignment } from '../../src/solver/assignment-solver.js';
import { HexfleetError } from '../../src/protocol/error-codes.js';
import { mulberry32 } from '../../src/simulator/rng.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function randomCost(rand: () => number, rows: number, cols: number): Float64Array {
  const cost = new Float64Array(rows * cols);
  for (let k = 0; k < cost.length; k++) cost[k] = rand() < 0.3 ? Infinity : Math.round(rand() * 900);
  return cost;
}

describe('DispatchPool (real worker threads)', () => {
  let pool: DispatchPool;

  beforeAll(() => {
    // The workers load compiled JavaScript, which the global setup builds
    // (`npm run build`) before any test file starts. Rebuilding here would
    // rewrite dist/ under test files running in parallel that spawn dist/src/cli.js.
    for (const name of ['matching/dispatch-worker', 'solver/assignment-solver']) {
      const compiled = join(root, 'dist/src', `${name}.js`);
      const source = join(root, 'src', `${name}.ts`);
      if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
        throw new Error(`${compiled} is missing or older than ${source}; run \`npm run build\``);
      }
    }
    pool = new DispatchPool({ threads: 2, maxQueue: 8 });
  });

  afterAll(async () => {
    await pool?.close();
  });

  it('solve() in a worker equals the in-thread solver, across shapes', async () => {
    const rand = mulberry32(99);
    const shapes: [number, number][] = [
      [30, 40],
      [40, 30],
      [25, 25],
      [1, 12],
      [12, 1],
    ];
    for (const [rows, cols] of shapes) {
      const cost = randomCost(rand, rows, cols);
      const expected = solveAssignment(cost, rows, cols);
      const got = await pool.solve(cost.slice(), rows, cols);
      expect(got).toBeInstanceOf(Int32Array);
      expect(Array.from(got)).toEqual(Array.from(expected));
    }
  });

  it('transfers the cost matrix: the sender buffer is detached once solve() is called', async () => {
    const cost = randomCost(mulberry32(5), 10, 10);
    const pending = pool.solve(cost, 10, 10);
    expect(cost.buffer.byteLength).toBe(0);
    expect(cost.length).toBe(0);
    const assignment = await pending;
    expect(assignment.length).toBe(10);
    expect(assignment.buffer.byteLength).toBe(10 * Int32Array.BYTES_PER_ELEMENT);
  });

  it('rank() orders by ETA, then distance, then index, and transfers both arrays', async () => {
    const etaS = Float64Array.from([300, 120, 120, NaN, 60, 120]);
    const distanceM = Float64Array.from([900, 800, 500, 10, 2000, 500]);
    const pending = pool.rank(etaS, distanceM);
    expect(etaS.buffer.byteLength).toBe(0);
    expect(distanceM.buffer.byteLength).toBe(0);
    expect(Array.from(await pending)).toEqual([4, 2, 5, 1, 0, 3]);
  });

  it('an error in the worker rejects the call with its message', async () => {
    await expect(pool.solve(new Float64Array(5), 2, 3)).rejects.toThrow(/expected rows × cols = 2 × 3 = 6/);
    await expect(pool.rank(new Float64Array(2), new Float64Array(3))).rejects.toThrow(/must match/);
  });

  it('when the queue is full, calls reject at once with overloaded and keep their arrays; the accepted ones succeed', async () => {
    const small = new DispatchPool({ threads: 1, maxQueue: 2 });
    try {
      const rand = mulberry32(11);
      const n = 120;
      const problems = Array.from({ length: 20 }, () => randomCost(rand, n, n));
      const settled: { index: number; ok: boolean; error?: unknown }[] = [];
      const calls = problems.map((cost, index) =>
        small.solve(cost, n, n).then(
          (assignment) => {
            settled.push({ index, ok: true });
            return assignment;
          },
          (error: unknown) => {
            settled.push({ index, ok: false, error });
            return null;
          },
        ),
      );
      expect(small.inFlight).toBe(3);
      const results = await Promise.all(calls);

      const rejected = settled.filter((s) => !s.ok);
      const accepted = settled.filter((s) => s.ok);
      // One running + two waiting are accepted; the rest are turned away.
      expect(accepted.map((s) => s.index).sort((a, b) => a - b)).toEqual([0, 1, 2]);
      expect(rejected).toHaveLength(17);
      for (const r of rejected) {
        expect(r.error).toBeInstanceOf(HexfleetError);
        expect((r.error as HexfleetError).code).toBe('overloaded');
        expect((r.error as HexfleetError).retry).toBe(true);
        // Rejected before any transfer: the caller still owns the matrix.
        expect(problems[r.index]!.length).toBe(n * n);
      }
      // Fast: every rejection settled before the first accepted task finished.
      expect(settled.slice(0, 17).every((s) => !s.ok)).toBe(true);
      for (const i of [0, 1, 2]) expect(results[i]).toBeInstanceOf(Int32Array);

      // Capacity comes back once the accepted work is done.
      expect(small.inFlight).toBe(0);
      await expect(small.solve(randomCost(rand, 4, 4), 4, 4)).resolves.toHaveLength(4);
    } finally {
      await small.close();
    }
    await expect(small.solve(new Float64Array(1), 1, 1)).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('exposes threads, queueSize and utilization for metrics', () => {
    expect(pool.threads).toBe(2);
    expect(pool.queueSize).toBe(0);
    expect(pool.utilization).toBeGreaterThanOrEqual(0);
    expect(pool.utilization).toBeLessThanOrEqual(1);
  });
});

describe('DispatchPool options and worker file', () => {
  it.each([
    { options: { threads: 0, maxQueue: 1 }, message: 'threads must be an integer ≥ 1, got 0' },
    { options: { threads: 1.5, maxQueue: 1 }, message: 'threads must be an integer ≥ 1, got 1.5' },
    { options: { threads: 1, maxQueue: -1 }, message: 'maxQueue must be an integer ≥ 0, got -1' },
  ])('rejects $options', ({ options, message }) => {
    expect(() => new DispatchPool(options)).toThrow(message);
  });

  it('from compiled code the worker is the sibling .js file', () => {
    expect(resolveWorkerFile('file:///app/dist/src/matching/dispatch-pool.js')).toBe('/app/dist/src/matching/dispatch-worker.js');
  });

  it('from sources without a build it names the command to run', () => {
    expect(() => resolveWorkerFile('file:///nowhere/src/matching/dispatch-pool.ts')).toThrow(
      'the dispatch worker runs compiled JavaScript and /nowhere/dist/src/matching/dispatch-worker.js does not exist; run `npm run build` first',
    );
  });
});
