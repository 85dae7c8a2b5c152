/**
 * The bulkhead around dispatch's CPU work: a fixed piscina pool of worker
 * threads with a bounded queue, so scoring and assignment never block the
 * gateway's event loop (where ingest and tracking run) and never pile up.
 *
 *   caller ──solve()/rank()──▶ [ in flight ≤ threads + maxQueue ] ──▶ worker threads
 *                  │ full
 *                  ▼
 *   rejected at once with HexfleetError('overloaded') → HTTP 503 + Retry-After
 *
 * Typed arrays are transferred, not copied: after `solve(cost, …)` returns its
 * promise, `cost.buffer` belongs to the worker and is detached here (the whole
 * underlying ArrayBuffer, so pass arrays that own their buffer). A rejected
 * call (overloaded, closed) transfers nothing and leaves the arrays usable.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { HexfleetError } from '../protocol/error-codes.js';
import type { RankResult, RankTask, SolveResult, SolveTask } from './dispatch-worker.js';

export interface DispatchPoolOptions {
  /** Worker threads, fixed (min = max) so capacity is predictable. Integer ≥ 1. */
  threads: number;
  /** Tasks that may wait for a free thread beyond the ones running. Integer ≥ 0. */
  maxQueue: number;
  /** The compiled worker module; default: see `resolveWorkerFile`. */
  workerFile?: string;
  /**
   * Start the threads on the first task instead of at once. For short-lived
   * commands (hexfleet reconcile) that may close the pool before a thread
   * finished loading its modules: Node 20 aborts the whole process when a
   * worker is terminated mid-load (v8 IsGraphAsync fatal error).
   */
  lazy?: boolean;
}

/**
 * Where the compiled worker is. From compiled code, the sibling
 * `dispatch-worker.js`; from TypeScript sources (vitest runs .ts files, and
 * worker threads cannot load them) the build output under dist/, which
 * `npm run build` produces. Throws when that file is missing.
 */
export function resolveWorkerFile(moduleUrl: string = import.meta.url): string {
  if (!moduleUrl.endsWith('.ts')) return fileURLToPath(new URL('./dispatch-worker.js', moduleUrl));
  // <root>/src/matching/dispatch-pool.ts → <root>/dist/src/matching/dispatch-worker.js
  const file = fileURLToPath(new URL('../../dist/src/matching/dispatch-worker.js', moduleUrl));
  if (!existsSync(file)) {
    throw new Error(`the dispatch worker runs compiled JavaScript and ${file} does not exist; run \`npm run build\` first`);
  }
  return file;
}

function checkOptions(options: DispatchPoolOptions): void {
  if (!Number.isInteger(options.threads) || options.threads < 1) {
    throw new RangeError(`threads must be an integer ≥ 1, got ${options.threads}`);
  }
  if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) {
    throw new RangeError(`maxQueue must be an integer ≥ 0, got ${options.maxQueue}`);
  }
}

/** Transfer list for arrays whose buffer can move (a SharedArrayBuffer is shared, not moved). */
function buffersOf(...arrays: ArrayBufferView[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && !out.includes(a.buffer)) out.push(a.buffer);
  return out;
}

/**
 * Runs dispatch tasks on worker threads. Guarantees: at most
 * `threads + maxQueue` tasks are accepted at a time and any call beyond that
 * rejects synchronously-fast (no await on a worker) with code `overloaded`;
 * results arrive in the caller's realm as owned typed arrays; a task that
 * throws in the worker rejects its promise with that error.
 */
export class DispatchPool {
  readonly #piscina: Piscina;
  readonly #capacity: number;
  #inFlight = 0;
  #closed = false;
  /** Settles once every thread started at construction has loaded its modules (or failed to). */
  #loaded: Promise<unknown> = Promise.resolve();

  constructor(options: DispatchPoolOptions) {
    checkOptions(options);
    this.#capacity = options.threads + options.maxQueue;
    this.#piscina = new Piscina({
      filename: options.workerFile ?? resolveWorkerFile(),
      name: 'solve',
      minThreads: options.lazy ? 0 : options.threads,
      maxThreads: options.threads,
      // The bound is enforced here, in #admit, where it is exact and cheap;
      // piscina's own queue limit would only duplicate it.
      maxQueue: Infinity,
      // Workers never go idle-terminated: a cold start on the first match after a lull costs ~50 ms.
      idleTimeout: Infinity,
    });
    // Node 20 aborts the whole process when a thread is terminated while it is
    // still loading its modules (v8 IsGraphAsync fatal error): a gateway
    // stopped right after it started would. One task per thread proves each
    // has loaded; close() waits for them. (Threads start loaded-looking in
    // piscina, so nothing else tells.)
    if (!options.lazy) {
      this.#loaded = Promise.allSettled(Array.from({ length: options.threads }, () => this.#piscina.run(null, { name: 'loaded' })));
    }
  }

  /** Optimal assignment in a worker; `cost` is transferred (see the module doc). */
  solve(cost: Float64Array, rows: number, cols: number): Promise<Int32Array> {
    const task: SolveTask = { cost, rows, cols };
    return this.#run<SolveResult>('solve', task, buffersOf(cost)).then((r) => r.assignment);
  }

  /** Candidate indices best first (ETA, then distance, then index); both arrays are transferred. */
  rank(etaS: Float64Array, distanceM: Float64Array): Promise<Int32Array> {
    const task: RankTask = { etaS, distanceM };
    return this.#run<RankResult>('rank', task, buffersOf(etaS, distanceM)).then((r) => r.order);
  }

  /** Tasks waiting for a thread (not counting the running ones). */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /** Tasks accepted and not yet settled (running + waiting). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Share of the pool's thread time spent running tasks since start, 0..1 (piscina's definition). */
  get utilization(): number {
    return this.#piscina.utilization;
  }

  /** Number of worker threads. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Waits for accepted tasks to finish, then stops the threads; later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#loaded;
    await this.#piscina.close();
  }

  #run<R>(name: 'solve' | 'rank', task: SolveTask | RankTask, transferList: ArrayBuffer[]): Promise<R> {
    if (this.#closed) return Promise.reject(new HexfleetError('shutting_down', 'the dispatch pool is closed'));
    if (this.#inFlight >= this.#capacity) {
      return Promise.reject(new HexfleetError('overloaded', `the dispatch pool has ${this.#inFlight} tasks in flight, its limit; retry later`));
    }
    this.#inFlight++;
    const done = (): void => {
      this.#inFlight--;
    };
    const result = this.#piscina.run(task, { name, transferList }) as Promise<R>;
    result.then(done, done);
    return result;
  }
}
