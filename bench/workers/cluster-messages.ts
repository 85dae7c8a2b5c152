import type { Area } from '../lib/driver-sim.js';
import type { BenchEngine } from '../lib/bench-backend.js';
import type { HistogramData } from '../lib/messages.js';

/**
 * The IPC messages between bench:cluster's scenarios and their workers
 * (cluster-writer.ts, cluster-reader.ts). Every worker opens the engine it is
 * told to (one Redis or the Cluster) through openBenchBackend, so the same
 * worker measures every configuration. Times are wall-clock ms (clock.ts).
 */

/** Which store a worker opens, and under which key prefix. */
export interface EngineTarget {
  redisUrl: string;
  engine: BenchEngine;
  prefix: string;
  /** H3 resolution of the cell index (the engine's default, 9). */
  h3Resolution: number;
}

export interface WriterConfig extends EngineTarget {
  type: 'config';
  drivers: number;
  idTag: string;
  area: Area;
  seed: number;
  batchPings: number;
  /** Driver batches per applyBatches call: what a gateway's 4,096-ping flush holds. */
  batchesPerCall: number;
  /** applyBatches calls in flight (HEXFLEET_INGEST_MAX_INFLIGHT). */
  inflight: number;
  dtS: number;
  tsStepMs: number;
}

export interface WriterResult {
  type: 'result';
  windowApplied: number;
  windowCalls: number;
  duplicates: number;
  /** Driver batches the store answered `failed` for (not acked), and calls that threw, by message. */
  failedBatches: number;
  errors: Record<string, number>;
  /** Moves to another area made during the window (the Cluster store's own counter; 0 on one Redis). */
  moves: number;
  /** Send → answer of each applyBatches call that started in the window. */
  callLatency: HistogramData;
}

export interface ReaderConfig extends EngineTarget {
  type: 'config';
  /** Staleness threshold of the parked fleet's store (it is never re-pinged). */
  staleMs: number;
  area: Area;
  concurrency: number;
  radiusM: number;
  limit: number;
}

/** Start querying at `startAt`, count [measureFrom, measureTo); the query points come from `seed`. */
export interface ReaderGo {
  type: 'go';
  startAt: number;
  measureFrom: number;
  measureTo: number;
  seed: number;
}

export interface ReaderResult {
  type: 'result';
  windowQueries: number;
  windowReturned: number;
  errors: Record<string, number>;
  latency: HistogramData;
}

/** Adds `err` to an error tally (by code and message, numbers such as driver ids and ports folded, so one failure is one line). */
export function tallyError(errors: Record<string, number>, err: unknown): void {
  const e = err as Error & { code?: string; cause?: Error };
  const key = `${e.code ?? e.name}: ${e.cause?.message ?? e.message}`.replace(/\d+/g, 'N').slice(0, 200);
  errors[key] = (errors[key] ?? 0) + 1;
}
