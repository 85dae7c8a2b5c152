import { setTimeout as sleep } from 'node:timers/promises';
import { joinWithRetry } from '../runtime/join-with-retry.js';
import type { Logger } from 'pino';
import type { EventLog, LogBatch, LogConsumer, LoggedRecord } from '../eventlog/event-log.js';
import { originRegionOf } from '../eventlog/origin-region.js';
import { dlqOf, type Topics } from '../eventlog/topics.js';
import type { ApplyOutcome, DriverBatch, DriverStore } from '../geo/driver-store.js';
import type { ReplicatedWrite } from '../tracking/position-bus.js';
import { decodePositionRecord } from '../ingest/position-records.js';
import { decodeOrderEvent } from '../orders/order-events.js';
import type { OrderStore } from '../orders/order-store.js';
import { deadLetterRecord } from '../notify/dlq.js';
import { retryDelayMs } from '../runtime/backoff.js';
import { detailOf } from '../protocol/error-codes.js';
import { restoreOrder } from '../replay/order-restore.js';
import { mirroredTopicsOf, replicationGroupOf } from './mirrored-topics.js';
import type { ReplicationMetrics, ReplicationOutcome } from './replication-metrics.js';

export interface ReplicationApplierDeps {
  /** This region's event log: MirrorMaker 2 writes the other regions' topics into it. */
  log: EventLog;
  /** This region's topic names (the mirrored ones are derived from them). */
  topics: Topics;
  /** The Kafka topic prefix (names the consumer group). */
  prefix: string;
  /** This region (HEXFLEET_REGION). */
  region: string;
  /** The regions replicated in (HEXFLEET_REPLICATE_FROM). */
  sources: readonly string[];
  drivers: DriverStore;
  orders: OrderStore;
  /** Partitions of the mirrored topics and their dead-letter topics when they have to be created (MirrorMaker adds partitions a source has more of). */
  partitions: number;
  metrics: ReplicationMetrics;
  logger: Logger;
  /** HEXFLEET_ORDER_RETENTION_MS: a finished order is kept what remains of it, as replay does. */
  orderRetentionMs?: number;
  /**
   * Called with every store write's batches and outcomes, and where they came
   * from (the source region, each batch's append time there, the time of the
   * write here): the gateway publishes the positions to its tracking and read
   * index with their replication age. Must not throw.
   */
  onApplied?: (batches: readonly DriverBatch[], outcomes: readonly ApplyOutcome[], from: ReplicatedWrite) => void;
  /** Store attempts per batch before the batch is handed back to the consumer (which offers it again after `retryDelayMs`). */
  maxAttempts?: number;
  backoffMs?: number;
  backoffMaxMs?: number;
  retryDelayMs?: number;
  /** How long a applier that could not join its group waits before trying again. */
  joinRetryMs?: number;
}

/** What /readyz shows of one source region. */
export interface SourceStatus {
  /** starting: not in the group yet; consuming: in it, the last store write succeeded; retrying: the store refused the last write. */
  state: 'starting' | 'consuming' | 'retrying' | 'stopped';
  topics: string[];
  /** When a record of this source was last applied or skipped here (ISO), null if never. */
  lastRecordAt: string | null;
  /** The log time of that record (ISO): how far behind the source this region is, at most. */
  lastRecordLoggedAt: string | null;
  /** The last failure, until the next success. */
  error?: string;
}

type Kind = 'positions' | 'orders';

interface Route {
  source: string;
  kind: Kind;
}

interface SourceState {
  topics: string[];
  retrying: boolean;
  lastRecordAt: number | undefined;
  lastRecordLoggedAt: number | undefined;
  error: string | undefined;
}

/**
 * Pings a store call takes at most: a Kafka batch may hold thousands of
 * records, and one call of a few thousand pings holds Redis for a few ms
 * (see REPLAY_APPLY for the measured costs of larger calls).
 */
const MAX_BATCHES_PER_CALL = 1024;

/**
 * The replication applier of one region: applies what the other regions
 * appended to their event logs, mirrored into this region's Kafka by
 * MirrorMaker 2, to this region's stores.
 *
 *   region a ── hexfleet.positions ──MM2──▶ a.hexfleet.positions ─┐
 *            └─ hexfleet.orders    ──MM2──▶ a.hexfleet.orders    ─┴─▶ applier (group hexfleet.replication.b) ──▶ b's DriverStore / OrderStore
 *                                                                                        (never b's event log)
 *
 * Guarantees:
 * - Idempotent writes only: positions through `DriverStore.applyBatches`,
 *   the path of local pings (seq guard, ts rule), so a driver whose pings
 *   reach two regions, in any interleaving, converges to the same record in
 *   both; orders through `OrderStore.restore` (the replay path: written only
 *   over an older version, never taken back). A record applied twice
 *   (at-least-once delivery, a redelivered batch) changes nothing the second
 *   time.
 * - No loops: what it applies is never appended to this region's event log
 *   (neither store path appends), so it is not mirrored anywhere. A record
 *   whose origin region is this one (which MirrorMaker's replication policy
 *   never delivers here) is skipped and counted as `skipped_own_region`.
 * - Offsets are committed only after the batch is applied (KafkaLogConsumer);
 *   a store write that fails is retried with exponential backoff (full
 *   jitter), then the batch is handed back uncommitted and offered again:
 *   a store outage delays replication, it loses nothing, and a driver's
 *   records are never applied out of order. A record that cannot be decoded
 *   goes to `<mirrored topic>.dlq` with the reason.
 */
export class ReplicationApplier {
  private readonly routes = new Map<string, Route>();
  private readonly states = new Map<string, SourceState>();
  private readonly stopping = new AbortController();
  private consumer: LogConsumer | undefined;
  private joining: Promise<void> | undefined;
  private joined = false;
  readonly group: string;

  constructor(private readonly deps: ReplicationApplierDeps) {
    this.group = replicationGroupOf(deps.prefix, deps.region);
    for (const source of deps.sources) {
      const t = mirroredTopicsOf(source, deps.topics);
      this.routes.set(t.positions, { source, kind: 'positions' });
      this.routes.set(t.orders, { source, kind: 'orders' });
      this.states.set(source, { topics: [t.positions, t.orders], retrying: false, lastRecordAt: undefined, lastRecordLoggedAt: undefined, error: undefined });
    }
  }

  /**
   * Joins the group in the background (a Kafka that is down delays
   * replication, not the gateway), trying again every `joinRetryMs`.
   * Resolves once joined, or once stopped.
   */
  start(): Promise<void> {
    this.joining ??= joinWithRetry(() => this.join(), {
      signal: this.stopping.signal, retryMs: this.joinRetryMs, log: this.deps.logger, what: 'replication applier', fields: { group: this.group },
    });
    return this.joining;
  }

  /** Each source region's state, for /readyz. */
  status(): Record<string, SourceStatus> {
    const out: Record<string, SourceStatus> = {};
    for (const [source, s] of this.states) {
      const state = this.stopping.signal.aborted ? 'stopped' : !this.joined ? 'starting' : s.retrying ? 'retrying' : 'consuming';
      out[source] = {
        state,
        topics: s.topics,
        lastRecordAt: iso(s.lastRecordAt),
        lastRecordLoggedAt: iso(s.lastRecordLoggedAt),
        ...(s.error !== undefined ? { error: s.error } : {}),
      };
    }
    return out;
  }

  /** Stops retrying, leaves the group after the batch in hand (uncommitted if it did not finish). Idempotent. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.joining;
    await this.consumer?.stop();
  }

  private get joinRetryMs(): number {
    return this.deps.joinRetryMs ?? 5_000;
  }

  private async join(): Promise<void> {
    const topics = [...this.routes.keys()];
    const { partitions } = this.deps;
    // Created here when MirrorMaker has not mirrored anything yet: a group cannot subscribe to a topic that does not exist.
    await this.deps.log.ensureTopics([...topics, ...topics.map(dlqOf)].map((name) => ({ name, partitions })));
    const consumer = await this.deps.log.consume({
      group: this.group,
      topics,
      // A region that joins late (or a new region) takes everything the others still retain.
      fromBeginning: true,
      handler: (batch) => this.handle(batch),
      retryDelayMs: this.deps.retryDelayMs ?? 1_000,
    });
    if (this.stopping.signal.aborted) {
      await consumer.stop();
      return;
    }
    this.consumer = consumer;
    this.joined = true;
    this.deps.logger.info({ group: this.group, sources: this.deps.sources, topics }, 'replication applier consuming the other regions\' mirrored topics');
  }

  private async handle(batch: LogBatch): Promise<void> {
    const route = this.routes.get(batch.topic);
    if (!route) throw new Error(`replication applier: no route for topic ${batch.topic}`);
    const records: LoggedRecord[] = [];
    for (const r of batch.records) {
      if (originRegionOf(r.headers, route.source) === this.deps.region) this.count(route, r, 'skipped_own_region');
      else records.push(r);
    }
    if (route.kind === 'positions') await this.applyPositions(route, records);
    else await this.applyOrders(route, records);
  }

  private async applyPositions(route: Route, records: LoggedRecord[]): Promise<void> {
    const batches: DriverBatch[] = [];
    const from: LoggedRecord[] = [];
    for (const r of records) {
      try {
        batches.push(decodePositionRecord(r.value, r.headers));
        from.push(r);
      } catch (err) {
        await this.deadLetter(route, r, err);
      }
    }
    for (let i = 0; i < batches.length; i += MAX_BATCHES_PER_CALL) {
      await this.applyChunk(route, batches.slice(i, i + MAX_BATCHES_PER_CALL), from.slice(i, i + MAX_BATCHES_PER_CALL));
    }
  }

  /** One store call (again for the batches a shard refused, with backoff): a driver's batches are all in one call, so none overtakes another. */
  private async applyChunk(route: Route, batches: DriverBatch[], records: LoggedRecord[]): Promise<void> {
    let pending = batches.map((_, i) => i);
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const outcomes = await this.deps.drivers.applyBatches(pending.map((i) => batches[i]!), Date.now());
        const again: number[] = [];
        const appliedAt = Date.now();
        const done: { b: DriverBatch[]; o: ApplyOutcome[]; at: number[] } = { b: [], o: [], at: [] };
        outcomes.forEach((o, k) => {
          const i = pending[k]!;
          if (o.failed) {
            again.push(i);
            failure = o.failed;
            return;
          }
          this.count(route, records[i]!, o.applied > 0 ? 'applied' : 'skipped_duplicate');
          done.b.push(batches[i]!);
          done.o.push(o);
          done.at.push(records[i]!.timestamp);
        });
        if (done.b.length > 0) this.deps.onApplied?.(done.b, done.o, { region: route.source, acceptedAt: done.at, appliedAt });
        if (again.length === 0) return this.succeeded(route);
        pending = again;
      } catch (err) {
        failure = err;
      }
      await this.backoff(route, attempt, failure);
    }
  }

  private async applyOrders(route: Route, records: LoggedRecord[]): Promise<void> {
    for (const r of records) {
      let doc;
      try {
        const event = decodeOrderEvent(r.value, r.headers);
        if (!Number.isSafeInteger(event.version) || event.version < 1) throw new Error(`order ${event.orderId}: version ${event.version} is not a positive integer`);
        doc = { ...event.doc, orderId: event.orderId, version: event.version };
      } catch (err) {
        await this.deadLetter(route, r, err);
        continue;
      }
      const d = doc;
      const outcome = await this.retrying(route, async (): Promise<ReplicationOutcome> => {
        // Read-only here: its home region alone moves it on, and its driver is fenced by ownership, not by a reservation here.
        if (await restoreOrder(this.deps.orders, d, this.deps.orderRetentionMs, Date.now(), { foreign: true })) return 'applied';
        // Not written: this version was here already (a redelivery, or both regions saw it), or a newer one is.
        const held = await this.deps.orders.get(d.orderId);
        return held !== null && held.version > d.version ? 'skipped_stale' : 'skipped_duplicate';
      });
      this.count(route, r, outcome);
    }
  }

  private async retrying<T>(route: Route, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await fn();
        this.succeeded(route);
        return out;
      } catch (err) {
        await this.backoff(route, attempt, err);
      }
    }
  }

  /** Waits before attempt `attempt + 1`; throws (the batch goes back to the consumer, uncommitted) after the last attempt or when stopping. */
  private async backoff(route: Route, attempt: number, err: unknown): Promise<void> {
    const s = this.states.get(route.source)!;
    s.retrying = true;
    s.error = detailOf(err);
    if (attempt === 1) this.deps.logger.warn({ source: route.source, kind: route.kind, err: s.error }, 'replication: the store refused a write; retrying with backoff');
    if (attempt >= (this.deps.maxAttempts ?? 5) || this.stopping.signal.aborted) throw err;
    const wait = retryDelayMs(attempt, this.deps.backoffMs ?? 100, this.deps.backoffMaxMs ?? 2_000);
    await sleep(wait, undefined, { signal: this.stopping.signal }).catch(() => {});
    if (this.stopping.signal.aborted) throw err;
  }

  private succeeded(route: Route): void {
    const s = this.states.get(route.source)!;
    if (s.retrying) this.deps.logger.info({ source: route.source, kind: route.kind }, 'replication: the store takes writes again');
    s.retrying = false;
    s.error = undefined;
  }

  private count(route: Route, r: LoggedRecord, outcome: ReplicationOutcome): void {
    const now = Date.now();
    this.deps.metrics.records.inc({ source: route.source, kind: route.kind, outcome });
    this.deps.metrics.lag.observe({ source: route.source }, Math.max(0, now - r.timestamp) / 1000);
    const s = this.states.get(route.source)!;
    s.lastRecordAt = now;
    s.lastRecordLoggedAt = r.timestamp;
  }

  /** Sends an undecodable record to `<topic>.dlq`; a failed append rejects (the batch is offered again). */
  private async deadLetter(route: Route, r: LoggedRecord, err: unknown): Promise<void> {
    const reason = `undecodable: ${detailOf(err)}`;
    await this.deps.log.append(dlqOf(r.topic), [deadLetterRecord(r, reason, 0)]);
    this.count(route, r, 'failed');
    this.deps.logger.warn({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, err: reason, dlq: dlqOf(r.topic) }, 'replicated record dead-lettered');
  }
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}
