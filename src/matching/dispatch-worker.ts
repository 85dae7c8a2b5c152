/**
 * The piscina worker module of the dispatch pool: CPU-bound dispatch work that
 * must not block the gateway's event loop. Each named export is one task
 * (`pool.run(task, { name })`); every typed array crosses the thread boundary
 * by transfer, never by copy, in both directions.
 *
 * Loaded from the compiled file (dist/src/matching/dispatch-worker.js); see
 * `DispatchPool` for how the path is resolved.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { solveAssignment } from '../solver/assignment-solver.js';
import { rankOrder } from './rank-order.js';

/** Input of `solve`: a row-major cost matrix (see assignment-solver.ts). */
export interface SolveTask {
  cost: Float64Array;
  rows: number;
  cols: number;
}

/** Output of `solve`: for each row the assigned column, or -1. */
export interface SolveResult {
  assignment: Int32Array;
}

/** Input of `rank`: one entry per candidate driver, same length. */
export interface RankTask {
  /** Pickup ETA in seconds: the score, lower is better. */
  etaS: Float64Array;
  /** Distance to the pickup in metres: breaks ETA ties, shorter first. */
  distanceM: Float64Array;
}

/** Output of `rank`: candidate indices, best first. */
export interface RankResult {
  order: Int32Array;
}

/**
 * Wraps `value` so piscina posts it with `buffers` in the transfer list: the
 * result arrays are moved back to the main thread, not copied.
 * (`move` alone moves only a bare typed array, not one inside an object.)
 */
function moveWith<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  const transferable = { [transferableSymbol]: buffers, [valueSymbol]: value };
  // piscina unwraps the marked object to `value` before posting it, so the
  // receiving side sees T; the cast states that contract.
  return move(transferable) as unknown as T;
}

/** Minimum-cost assignment of rows (orders) to columns (drivers); see `solveAssignment`. */
export function solve(task: SolveTask): SolveResult {
  const assignment = solveAssignment(task.cost, task.rows, task.cols);
  return moveWith({ assignment }, [assignment.buffer as ArrayBuffer]);
}

/** Candidate indices best first (rankOrder: ETA, then distance, then index). */
export function rank(task: RankTask): RankResult {
  const order = rankOrder(task.etaS, task.distanceM);
  return moveWith({ order }, [order.buffer as ArrayBuffer]);
}

/** Answers once this thread has loaded its modules (DispatchPool waits for it before closing). */
export function loaded(): true {
  return true;
}
