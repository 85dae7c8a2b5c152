import type { EventLog, LogBatch, PartitionOffsets, ReadFrom } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import type { DriverBatch, DriverStore, SweepOutcome } from '../geo/driver-store.js';
import { decodePositionRecord } from '../ingest/position-records.js';
import { decodeOrderEvent } from '../orders/order-events.js';
import type { OrderStore } from '../orders/order-store.js';
import { type BatchApplierOptions, BatchApplier, REPLAY_APPLY } from './batch-applier.js';
import { readLog } from './read-log.js';
import { NewestOrders, restoreOrder } from './order-restore.js';
import { type ReplayWindow, resumeFrom } from './replay-window.js';
import { type UndecodableRecord, UndecodableRecords } from './undecodable-records.js';

/** The stores a replay writes into (a Backend's `drivers` and `orders`). */
export interface ReplayStores {
  drivers: DriverStore;
  orders: OrderStore;
}

/** What to replay and how (see `replayStores`). */
export interface StoreReplayOptions {
  window: ReplayWindow;
  /** Read, decode and count; write nothing. */
  dryRun: boolean;
  /** Called every `progressIntervalMs` while reading (not after the end: the summary says it). */
  onProgress?: (progress: StoreReplayProgress) => void;
  /** Default 1000: progress at most once a second. */
  progressIntervalMs?: number;
  /** Store call sizes (default `REPLAY_APPLY`). */
  apply?: BatchApplierOptions;
  /** How long the live system keeps a finished order (HEXFLEET_ORDER_RETENTION_MS); absent: restored finished orders are kept. */
  orderRetentionMs?: number;
}

/** Where a store replay is, as the progress line shows it. */
export interface StoreReplayProgress {
  elapsedMs: number;
  positionRecords: number;
  pings: number;
  /** Pings read per second since the previous progress call. */
  pingsPerSec: number;
  partitionsDone: number;
  partitions: number;
  orderRecords: number;
  undecodable: number;
}

/** What a store replay did; `--json` prints it as it is. */
export interface StoreReplaySummary {
  dryRun: boolean;
  window: { positions: ReadFrom; orders: ReadFrom; to: string };
  positions: {
    records: number;
    /** Pings read (in decodable records up to `to`). */
    pings: number;
    /** Pings the store applied (0 in a dry run). */
    applied: number;
    /** Pings the store's seq guard skipped: already held, or in the log twice. */
    duplicates: number;
    /** applyBatches calls made. */
    storeCalls: number;
  };
  orders: {
    records: number;
    /** Distinct orders in the window. */
    orders: number;
    /** Orders written (the store held an older version or none). */
    restored: number;
    /** Orders the store already held at that version or a newer one. */
    current: number;
    /** Events an order's newer event in the window made unnecessary. */
    superseded: number;
  };
  undecodable: { count: number; first: UndecodableRecord[] };
  /** Records the log handed over with a timestamp after `to`: skipped. */
  afterTo: number;
  /** The index as the live sweeper would have left it at `to` (absent in a dry run). */
  sweep: SweepOutcome | undefined;
  /** `--from` for a later replay that continues where this one ended (empty when nothing was read). */
  resumeFrom: string;
  elapsedMs: number;
  /** Pings read and written through the store per second, over the whole run. */
  pingsPerSec: number;
}

/** Orders written at once: a commit-sized Lua call each, so a few dozen keep Redis busy without a burst. */
const RESTORE_CONCURRENCY = 32;

/**
 * Rebuilds the geo store and the order store from the event log, for the
 * window given:
 *
 *   positions topic ──read──▶ decode ──▶ BatchApplier ──▶ DriverStore.applyBatches   (seq guard: idempotent)
 *   orders topic    ──read──▶ decode ──▶ newest doc per order ──(after positions)──▶ OrderStore.restore
 *   then DriverStore.sweep(to): the index as the live sweeper kept it at `to`
 *
 * Guarantees:
 * - every write goes through the stores' own idempotent paths, so replaying
 *   a window twice, or over a store that already holds part of it, ends in
 *   the same state as replaying it once into an empty store;
 * - into an empty store (or one holding the state at the window's start),
 *   every driver and order in the log ends as the live system held it at
 *   `to`: a driver's pings are applied in log order (one partition per key),
 *   an order is written as its newest event up to `to`;
 * - an undecodable record is counted and listed, never stops the replay;
 *   a store that fails rejects (re-running is the retry).
 *
 * The stores' `now` is each call's newest record time (neither store uses it
 * to apply pings; a store that does sees the time the pings were live).
 */
export async function replayStores(log: EventLog, topics: Topics, stores: ReplayStores, options: StoreReplayOptions): Promise<StoreReplaySummary> {
  const { window, dryRun } = options;
  const started = performance.now();
  const applier = new BatchApplier(stores.drivers, options.apply ?? REPLAY_APPLY);
  const orders = new NewestOrders();
  const undecodable = new UndecodableRecords();
  const counts = { positionRecords: 0, pings: 0, orderRecords: 0, afterTo: 0 };

  const partitions = new PartitionProgress(await log.endOffsets(topics.positions));
  let last = { at: started, pings: 0 };
  const progressTimer = options.onProgress
    ? setInterval(() => {
        const at = performance.now();
        const pingsPerSec = ((counts.pings - last.pings) * 1000) / Math.max(1, at - last.at);
        last = { at, pings: counts.pings };
        options.onProgress!({
          elapsedMs: at - started,
          positionRecords: counts.positionRecords,
          pings: counts.pings,
          pingsPerSec,
          partitionsDone: partitions.done,
          partitions: partitions.total,
          orderRecords: counts.orderRecords,
          undecodable: undecodable.count,
        });
      }, options.progressIntervalMs ?? 1000)
    : undefined;

  async function onPositions(batch: LogBatch): Promise<void> {
    for (const record of batch.records) {
      if (record.timestamp > window.to) {
        counts.afterTo++;
        continue;
      }
      counts.positionRecords++;
      let decoded: DriverBatch;
      try {
        decoded = decodePositionRecord(record.value, record.headers);
      } catch (err) {
        undecodable.add(record, err);
        continue;
      }
      counts.pings += decoded.pings.length;
      if (dryRun) continue;
      const wait = applier.add(decoded, record.timestamp);
      if (wait) await wait;
    }
    const lastRecord = batch.records[batch.records.length - 1];
    if (lastRecord) partitions.reached(batch.partition, lastRecord.offset);
  }

  async function onOrders(batch: LogBatch): Promise<void> {
    for (const record of batch.records) {
      if (record.timestamp > window.to) {
        counts.afterTo++;
        continue;
      }
      counts.orderRecords++;
      try {
        orders.offer(decodeOrderEvent(record.value, record.headers));
      } catch (err) {
        undecodable.add(record, err);
      }
    }
  }

  let read: [PartitionOffsets, PartitionOffsets];
  let positions = { calls: 0, applied: 0, duplicates: 0 };
  try {
    read = await Promise.all([
      readLog(log, topics.positions, window.positions, window.to, onPositions),
      readLog(log, topics.orders, window.orders, window.to, onOrders),
    ]);
    partitions.finish();
    if (!dryRun) positions = await applier.drain();
  } finally {
    if (progressTimer) clearInterval(progressTimer);
  }

  const restoredOrders = dryRun ? { restored: 0, current: 0 } : await restoreAll(stores.orders, orders, options.orderRetentionMs);
  const sweep = dryRun ? undefined : await stores.drivers.sweep(window.to);
  const elapsedMs = performance.now() - started;
  return {
    dryRun,
    window: { positions: window.positions, orders: window.orders, to: new Date(window.to).toISOString() },
    positions: { records: counts.positionRecords, pings: counts.pings, applied: positions.applied, duplicates: positions.duplicates, storeCalls: positions.calls },
    orders: { records: counts.orderRecords, orders: orders.size, superseded: orders.superseded, ...restoredOrders },
    undecodable: { count: undecodable.count, first: undecodable.first },
    afterTo: counts.afterTo,
    sweep,
    resumeFrom: resumeFrom({ positions: read[0], orders: read[1] }),
    elapsedMs,
    pingsPerSec: (counts.pings * 1000) / Math.max(1, elapsedMs),
  };
}

/** Restores the newest doc of every order, a few at once. */
async function restoreAll(store: OrderStore, orders: NewestOrders, retentionMs: number | undefined): Promise<{ restored: number; current: number }> {
  const out = { restored: 0, current: 0 };
  const now = Date.now();
  const docs = orders.values();
  async function worker(): Promise<void> {
    for (let next = docs.next(); !next.done; next = docs.next()) {
      if (await restoreOrder(store, next.value, retentionMs, now)) out.restored++;
      else out.current++;
    }
  }
  await Promise.all(Array.from({ length: RESTORE_CONCURRENCY }, worker));
  return out;
}

/** Which partitions of the positions topic have been read to the end they had when the replay started. */
class PartitionProgress {
  private readonly pending = new Map<number, bigint>();
  readonly total: number;

  constructor(end: PartitionOffsets) {
    this.total = Object.keys(end).length;
    for (const [p, offset] of Object.entries(end)) {
      // The end offset is the next one to be written: an empty partition is done before it starts.
      if (BigInt(offset) > 0n) this.pending.set(Number(p), BigInt(offset));
    }
  }

  get done(): number {
    return this.total - this.pending.size;
  }

  reached(partition: number, offset: string): void {
    const end = this.pending.get(partition);
    if (end !== undefined && BigInt(offset) + 1n >= end) this.pending.delete(partition);
  }

  /** The read ended: a partition stopped by `to`, or emptied by retention, is done too. */
  finish(): void {
    this.pending.clear();
  }
}
