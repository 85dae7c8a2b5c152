import type { Area } from './driver-sim.js';

/**
 * IPC between bench/scenarios/log-replay.ts and its worker
 * (workers/log-replay-worker.ts), which owns the positions the scenario
 * writes: it produces them into the log, applies the same batches straight
 * to Redis (the baseline) and checks a rebuilt prefix against them.
 */

/** The positions of a run: `drivers` × `pingsPerDriver` pings, `pingsPerRecord` per log record. */
export interface ReplayDataConfig {
  type: 'config';
  brokers: string;
  /** Topics `<topicPrefix>.positions` and `<topicPrefix>.orders`, created with `partitions` partitions each. */
  topicPrefix: string;
  partitions: number;
  redisUrl: string;
  h3Resolution: number;
  drivers: number;
  pingsPerDriver: number;
  pingsPerRecord: number;
  recordsPerAppend: number;
  idTag: string;
  area: Area;
  seed: number;
  /** ts of every driver's first ping; the others follow 1 s apart. */
  startTs: number;
}

export interface ProduceResult {
  type: 'produced';
  records: number;
  pings: number;
  appends: number;
  /** Bytes of record values (msgpack), keys and headers excluded. */
  valueBytes: number;
  seconds: number;
}

/** Apply the same batches through BatchApplier → DriverStore.applyBatches under `prefix` (no log read). */
export interface BaselineRequest {
  type: 'baseline';
  prefix: string;
}

export interface BaselineResult {
  type: 'baseline-done';
  pings: number;
  applied: number;
  duplicates: number;
  calls: number;
  seconds: number;
}

/** Read every driver back from `prefix` and compare with the last ping written for it. */
export interface VerifyRequest {
  type: 'verify';
  prefix: string;
}

export interface VerifyResult {
  type: 'verified';
  drivers: number;
  /** Drivers with no record at all. */
  missing: number;
  /** Drivers whose record differs from the expected one in any field. */
  mismatches: number;
  /** The first few differences, "id: field got X want Y". */
  examples: string[];
  seconds: number;
}
