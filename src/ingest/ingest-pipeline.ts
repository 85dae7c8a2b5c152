import type { Logger } from 'pino';
import { detailOf, HexfleetError } from '../protocol/error-codes.js';
import type { ApplyOutcome, DriverBatch, DriverStore } from '../geo/driver-store.js';
import type { Metrics } from '../runtime/metrics.js';

/**
 * Where a later issue makes accepted batches durable in Kafka. When set, a
 * batch is acked only after the store write AND the journal append succeed.
 */
export interface IngestJournal {
  append(batches: readonly DriverBatch[]): Promise<void>;
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

interface Waiting {
  batch: DriverBatch;
  acceptedAt: number;
  resolve: (o: ApplyOutcome) => void;
  reject: (e: HexfleetError) => void;
}

/**
 * Turns frames from many connections into few store writes.
 *
 *   frames ──submit()──▶ [pending] ──flush (next tick or flushPings)──▶ store.applyBatches
 *                                                     ──▶ journal.append? ──▶ resolve → ack
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
    try {
      const outcomes = await this.store.applyBatches(batches, Date.now());
      if (this.journal) await this.journal.append(batches);
      this.notifyApplied(batches, outcomes);
      const done = performance.now();
      let applied = 0;
      for (let i = 0; i < items.length; i++) {
        const w = items[i]!;
        applied += outcomes[i]!.applied;
        this.metrics.applyLatency.observe((done - w.acceptedAt) / 1000);
        w.resolve(outcomes[i]!);
      }
      this.metrics.pingsApplied.inc(applied);
      this.metrics.pingsDuplicate.inc(pings - applied);
      this.metrics.storeWriteSize.observe(pings);
    } catch (err) {
      const error = err instanceof HexfleetError ? err : new HexfleetError('store_unavailable', String(err), { cause: err });
      this.metrics.storeErrors.inc({ op: 'apply' });
      this.log.warn({ code: error.code, cause: detailOf(error), batches: items.length, pings }, 'store write failed; batches not acked');
      for (const w of items) w.reject(error);
    }
  }
}
