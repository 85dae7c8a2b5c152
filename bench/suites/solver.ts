/**
 * `npm run bench:solver`: the assignment solver micro-benchmark
 * (scenarios/solver.ts) in this process; bench:match runs it as a child
 * and includes its table. Needs no Redis. Prints markdown, writes no file.
 */
import type { Suite } from '../lib/suite.js';
import { runSolver } from '../scenarios/solver.js';

export const solverSuite: Suite = {
  name: 'solver',
  summary: 'The assignment solver: 100 × 100, 1000 × 1000, 200 × 2000, against munkres; batch against greedy total ETA.',
  flags: {
    quick: 'smoke run: at most 5 problems per shape',
  },
  output: 'markdown',
  prepare(options) {
    return async () => ({ kind: 'markdown', markdown: await runSolver(options) });
  },
};
