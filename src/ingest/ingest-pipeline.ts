import type { Logger } from 'pino';
import { detailOf, HexfleetError } from '../protocol/error-codes.js';
import type { ApplyOutcome, DriverBatch, DriverStore } from '../geo/driver-store.js';
import type { Metrics } from '../runtime/metrics.js';
import type { EventLog } from '../eventlog/event-log.js';
import { positionRecord } from './position-records.js';

/**
 * Where accepted batches are made durable (the event log). When set, a batch
 * is acked only after the store write AND the journal append succeeded; a
 * failed append rejects with a retryable HexfleetError (`log_unavailable`).
 */
export interface IngestJournal {
  append(batches: readonly DriverBatch[]): Promise<void>;
}

/**
 * The event log as the ingest journal: one positions record per driver batch
 * (key driverId). Every validated ping of the batch is logged, duplicates by
 * seq included: a batch whose first append failed was not acked, its resend
 * is a duplicate for the store, and it must still reach the log. So the log
 * may hold a ping twice; replay applies pings through the store's seq guard,
 * which drops the second copy (replaying twice equals replaying once).
 */
export function logJournal(log: EventLog, topic: string): IngestJournal {
  return { append: (batches) => log.append(topic, batches.map(positionRecord)) };
}

export interface IngestPipelineOptions {
  /** Pings waiting (not yet written) across all connections; past it, `overloaded`. */
  maxPending: number;
  /** Store writes in flight at once. */
  maxInflight: number;
  /** Most pings in one store write. */
  flushPings: number;
  /**
   * Called after each successful store write (and journal append), before
   * the acks, with the write's batches and outcomes (live tracking publishes
   * positions from it). Must not throw and must not wait.
   */
  onApplied?: (batches: readonly DriverBatch[], outcomes: readonly ApplyOutcome[]) => void;
}

/** A failing store or log is reported at most this often (not once per write). */
const FAILURE_LOG_INTERVAL_MS = 1000;

interface Waiting {
  batch: DriverBatch;
  acceptedAt: number;
  resolve: (o: ApplyOutcome) => void;
  reject: (e: HexfleetError) => void;
}

/**
 * Turns frames from many connections into few store writes.
 *
 *   frames ──submit()──▶ [pending] ──flush (next tick or flushPings)─┬─▶ store.applyBatches ─┬─▶ resolve → ack
 *                                                                     └─▶ journal.append? ────┘  (both, at once)
 *
 * The store write and the journal append run at the same time, so the log
 * adds the slower of the two to an ack, not their sum. Either failing fails
 * the batch (not acked, retryable); the store may then hold pings the log
 * does not yet have, which the client's resend brings to the log.
 *
 * One Lua call carries the frames of every connection that arrived in the
 * same event-loop turn, so Redis round trips grow with time, not with drivers.
 * Writes go out in submit order on one connection, so a driver's frames are
 * applied in the order they arrived. The pending queue is bounded (bulkhead):
 * when the store is slow, new frames fail fast with `overloaded` instead of
 * growing memory, and clients resend.
 */
export class IngestPipeline {
  private pending: Waiting[] = [];
  private pendingPings = 0;
  private inflight = 0;
  private scheduled = false;
  private closing = false;
  private idle: (() => void)[] = [];
  private failedWrites = 0;
  private lastFailureLog = 0;

  constructor(
    private readonly store: DriverStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: IngestPipelineOptions,
    private readonly journal?: IngestJournal,
  ) {}

  /** Resolves when every ping of the batch is stored (or was a duplicate). */
  submit(batch: DriverBatch): Promise<ApplyOutcome> {
    if (this.closing) return Promise.reject(new HexfleetError('shutting_down'));
    const n = batch.pings.length;
    if (this.pendingPings + n > this.options.maxPending) return Promise.reject(new HexfleetError('overloaded'));
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, acceptedAt: performance.now(), resolve, reject });
      this.pendingPings += n;
      if (this.pendingPings >= this.options.flushPings) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Refuses new batches, writes what is pending, and resolves when nothing is in flight. */
  async drain(): Promise<void> {
    this.closing = true;
    this.flush();
    if (this.inflight === 0 && this.pending.length === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }

  private flush(): void {
    this.scheduled = false;
    while (this.inflight < this.options.maxInflight && this.pending.length > 0) {
      let pings = 0;
      let take = 0;
      while (take < this.pending.length && (take === 0 || pings + this.pending[take]!.batch.pings.length <= this.options.flushPings)) {
        pings += this.pending[take]!.batch.pings.length;
        take++;
      }
      const items = this.pending.splice(0, take);
      this.pendingPings -= pings;
      this.inflight++;
      void this.write(items, pings).finally(() => {
        this.inflight--;
        if (this.pending.length > 0) this.flush();
        else if (this.inflight === 0) this.idle.splice(0).forEach((r) => r());
      });
    }
    this.metrics.pendingPings.set(this.pendingPings);
  }

  private notifyApplied(batches: readonly DriverBatch[], outcomes: readonly ApplyOutcome[]): void {
    if (!this.options.onApplied) return;
    try {
      this.options.onApplied(batches, outcomes);
    } catch (err) {
      // Stored is stored: a listener's bug must not turn the write into a failure.
      this.log.error({ err }, 'onApplied listener failed');
    }
  }

  private async write(items: Waiting[], pings: number): Promise<void> {
    const batches = items.map((w) => w.batch);
    const [stored, logged] = await Promise.allSettled([
      this.store.applyBatches(batches, Date.now()),
      this.journal ? this.journal.append(batches) : undefined,
    ]);
    if (stored.status === 'rejected') {
      const err = stored.reason as unknown;
      this.metrics.storeErrors.inc({ op: 'apply' });
      return this.fail(items, pings, err instanceof HexfleetError ? err : new HexfleetError('store_unavailable', String(err), { cause: err }));
    }
    const outcomes = stored.value;
    // Stored is stored: readers (and tracking) see it whether or not the log confirmed.
    this.notifyApplied(batches, outcomes);
    if (logged.status === 'rejected') {
      const err = logged.reason as unknown;
      return this.fail(items, pings, err instanceof HexfleetError ? err : new HexfleetError('log_unavailable', String(err), { cause: err }));
    }
    const done = performance.now();
    let applied = 0;
    let failed = 0;
    for (let i = 0; i < items.length; i++) {
      const w = items[i]!;
      const outcome = outcomes[i]!;
      if (outcome.failed) {
        // Its shard failed, the others' batches were stored: only this one is not acked.
        failed += w.batch.pings.length;
        w.reject(outcome.failed);
        continue;
      }
      applied += outcome.applied;
      this.metrics.applyLatency.observe((done - w.acceptedAt) / 1000);
      w.resolve(outcome);
    }
    if (failed > 0) this.metrics.storeErrors.inc({ op: 'apply' });
    this.metrics.pingsApplied.inc(applied);
    this.metrics.pingsDuplicate.inc(pings - applied - failed);
    this.metrics.storeWriteSize.observe(pings);
  }

  /** Nothing of these batches is acked; each client resends. Logged at most once per second, with the count since the last line. */
  private fail(items: Waiting[], pings: number, error: HexfleetError): void {
    this.failedWrites++;
    const now = Date.now();
    if (now - this.lastFailureLog >= FAILURE_LOG_INTERVAL_MS) {
      this.log.warn({ code: error.code, cause: detailOf(error), batches: items.length, pings, failedWrites: this.failedWrites }, 'write failed; batches not acked');
      this.lastFailureLog = now;
      this.failedWrites = 0;
    }
    for (const w of items) w.reject(error);
  }
}
