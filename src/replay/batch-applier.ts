import type { DriverBatch, DriverStore } from '../geo/driver-store.js';

/** How a BatchApplier sizes its store calls and bounds what it holds. */
export interface BatchApplierOptions {
  /** Store calls in flight at once (one per lane). */
  lanes: number;
  /** A lane's call goes out once it holds this many batches… */
  maxBatchesPerCall: number;
  /** …or this many pings, whichever comes first. */
  maxPingsPerCall: number;
  /** `add` makes its caller wait while more pings than this are queued and in flight (bounded memory). */
  maxQueuedPings: number;
}

/**
 * Replay's calls: up to 16,384 pings each (a few thousand batches), one per
 * lane in flight, four lanes. Measured on the 2-core dev machine replaying
 * 1,000,000 pings of 10,000 drivers into Redis: such a call holds Redis for
 * ≈ 25 ms, short enough to replay into a Redis that gateways are serving
 * from; 65,536-ping calls cut Redis CPU by a quarter (more merging) but hold
 * it ≈ 60 ms and gained < 10 % in time, since the replaying process, not
 * Redis, is the bottleneck. Two lanes were slower than four, eight no faster.
 * The queue bound keeps a few store calls' worth of decoded pings in memory.
 */
export const REPLAY_APPLY: BatchApplierOptions = { lanes: 4, maxBatchesPerCall: 4096, maxPingsPerCall: 16_384, maxQueuedPings: 200_000 };

/** What the store calls of one replay did, summed. */
export interface ApplyTotals {
  /** Store calls made. */
  calls: number;
  /** Pings applied (seq above the driver's stored one). */
  applied: number;
  /** Pings the store's seq guard dropped (already applied, or twice in the log). */
  duplicates: number;
}

interface Lane {
  batches: DriverBatch[];
  /** The batch of each driver that a later batch of it may be merged into. */
  lastOf: Map<string, DriverBatch>;
  pings: number;
  /** The store call in flight, if any. */
  running: Promise<void> | undefined;
  /** The time passed to the store with this lane's batches: the newest record timestamp in it. */
  now: number;
}

/**
 * Feeds decoded batches to `DriverStore.applyBatches` in large calls, several
 * at once, without reordering any driver:
 *
 *   add(batch) ──hash(driverId) % lanes──▶ lane 0: [batches…] ──one call at a time──▶ applyBatches
 *                                          lane 1: [batches…] ──one call at a time──▶ applyBatches
 *                                          …
 *
 * A driver always lands in the same lane and a lane runs one call at a time,
 * so a driver's batches reach the store in the order added, whatever the
 * store does with concurrent calls. Within a lane, a batch whose seqs all
 * follow the previous batch of the same driver (same vehicle) is merged into
 * it: applying the pings of two batches in one is what the store does for two
 * batches in a row (seq guard, ts rule and sticky status run ping by ping),
 * and one merged batch costs the store one record read and write instead of
 * many. A batch that repeats seqs (a resend logged twice) is kept apart so
 * that every batch the store sees stays in ascending seq order.
 *
 * A rejected store call rejects the next `add` or `drain`: replay stops, and
 * since applying is idempotent, running it again is the retry.
 */
export class BatchApplier {
  readonly totals: ApplyTotals = { calls: 0, applied: 0, duplicates: 0 };
  private readonly lanes: Lane[];
  private queuedPings = 0;
  private failure: unknown;
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly store: DriverStore,
    private readonly options: BatchApplierOptions = REPLAY_APPLY,
  ) {
    this.lanes = Array.from({ length: options.lanes }, () => ({ batches: [], lastOf: new Map(), pings: 0, running: undefined, now: 0 }));
  }

  /**
   * Queues one batch (its pings are taken over: the caller must not reuse
   * them), `at` being its record's log time. Resolves at once while there is
   * room, else once there is: await it before reading on.
   */
  add(batch: DriverBatch, at: number): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const n = batch.pings.length;
    if (n === 0) return undefined;
    const lane = this.lanes[laneOf(batch.driverId, this.lanes.length)]!;
    const prev = lane.lastOf.get(batch.driverId);
    if (prev && prev.vehicle === batch.vehicle && prev.pings[prev.pings.length - 1]!.seq < batch.pings[0]!.seq) {
      for (const p of batch.pings) prev.pings.push(p);
    } else {
      lane.batches.push(batch);
      lane.lastOf.set(batch.driverId, batch);
    }
    lane.pings += n;
    lane.now = Math.max(lane.now, at);
    this.queuedPings += n;
    if (!lane.running && (lane.batches.length >= this.options.maxBatchesPerCall || lane.pings >= this.options.maxPingsPerCall)) this.start(lane);
    if (this.queuedPings <= this.options.maxQueuedPings) return undefined;
    // Full: make sure every lane with work is writing, then wait for room.
    for (const l of this.lanes) if (!l.running && l.pings > 0) this.start(l);
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Writes everything queued and resolves once every call has returned; rejects with the first store failure. */
  async drain(): Promise<ApplyTotals> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const busy = this.lanes.filter((l) => l.running || l.pings > 0);
      if (busy.length === 0) return this.totals;
      for (const l of busy) if (!l.running) this.start(l);
      await Promise.all(busy.map((l) => l.running));
    }
  }

  private start(lane: Lane): void {
    const batches = lane.batches;
    const pings = lane.pings;
    const now = lane.now;
    lane.batches = [];
    lane.lastOf = new Map();
    lane.pings = 0;
    lane.running = this.store.applyBatches(batches, now).then(
      (outcomes) => {
        this.totals.calls++;
        for (const o of outcomes) {
          // A batch its shard could not store fails the replay like a failed call: running it again is the retry.
          if (o.failed) this.failure ??= o.failed;
          this.totals.applied += o.applied;
          this.totals.duplicates += o.duplicates;
        }
        this.done(lane, pings);
        // A lane that filled up while its call ran goes again at once.
        if (lane.batches.length >= this.options.maxBatchesPerCall || lane.pings >= this.options.maxPingsPerCall) this.start(lane);
      },
      (err: unknown) => {
        this.failure ??= err;
        this.done(lane, pings);
      },
    );
  }

  private done(lane: Lane, pings: number): void {
    lane.running = undefined;
    this.queuedPings -= pings;
    if (this.failure !== undefined || this.queuedPings <= this.options.maxQueuedPings) {
      for (const wake of this.roomWaiters.splice(0)) wake();
    }
  }
}

/** FNV-1a of the id: cheap, and spreads ids that differ only in their last characters. */
function laneOf(driverId: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < driverId.length; i++) h = Math.imul(h ^ driverId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}
