import type { HistogramPairs } from './histogram.js';
import type { Area } from './driver-sim.js';

/**
 * The IPC messages between the ingest scenarios (bench/scenarios/) and
 * their workers (bench/workers/).
 * Times are wall-clock ms (see clock.ts), the same instants in every process.
 */

export type HistogramData = { pairs: HistogramPairs; maxUs: number; sumUs: number };

/** Start sending at `startAt`; count what happens in [measureFrom, measureTo); stop sending at measureTo. */
export interface GoMessage {
  type: 'go';
  startAt: number;
  measureFrom: number;
  measureTo: number;
}

export interface LoadgenConfig {
  /** closed: each driver keeps `depth` batches in flight; open: one batch per driver every `periodMs`, on a fixed schedule. */
  mode: 'closed' | 'open';
  /** Gateway driver endpoints; driver k of this process uses urls[k % urls.length]. */
  urls: string[];
  jwtSecret: string;
  /** This process drives global drivers first, first + step, …, `count` of them. */
  first: number;
  step: number;
  count: number;
  /** All drivers across processes (spreads the open-loop schedule evenly). */
  totalDrivers: number;
  idTag: string;
  area: Area;
  seed: number;
  batchPings: number;
  depth: number;
  periodMs: number;
  /** Seconds of driving between two pings (positions), and ms between their ts. */
  dtS: number;
  tsStepMs: number;
  connectConcurrency: number;
}

export interface LoadgenConnected {
  type: 'connected';
  connected: number;
  failed: number;
  firstError: string | undefined;
}

export interface LoadgenResult {
  type: 'result';
  sentFrames: number;
  sentPings: number;
  ackedFrames: number;
  ackedPings: number;
  windowAckedFrames: number;
  windowAckedPings: number;
  /** Non-ack replies by code. */
  errors: Record<string, number>;
  /** Acks that matched no batch in flight. */
  unmatched: number;
  /** Batches still without a reply after the drain timeout. */
  unanswered: number;
  unexpectedCloses: number;
  latency: HistogramData;
  /** Open loop: how late the load generator itself sent each batch. */
  sendLag: HistogramData;
}

export interface CeilingConfig {
  type: 'config';
  redisUrl: string;
  prefix: string;
  h3Resolution: number;
  drivers: number;
  idTag: string;
  area: Area;
  seed: number;
  batchPings: number;
  batchesPerCall: number;
  inflight: number;
  dtS: number;
  tsStepMs: number;
}

export interface CeilingResult {
  type: 'result';
  windowApplied: number;
  windowCalls: number;
  duplicates: number;
  callLatency: HistogramData;
}

export interface MemoryLoadConfig {
  type: 'config';
  /** redis: load through RedisDriverStore; memory: into a MemoryDriverStore and measure its heap. */
  mode: 'redis' | 'memory';
  redisUrl: string;
  prefix: string;
  h3Resolution: number;
  drivers: number;
  metroSideKm: number;
  seed: number;
  driversPerCall: number;
  inflight: number;
}

export interface MemoryLoadResult {
  type: 'result';
  loaded: number;
  seconds: number;
  heapBefore: number;
  heapAfter: number;
  storeSize: number;
}
