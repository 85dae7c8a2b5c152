import type { Logger } from 'pino';
import type { EventLog, LogBatch, LogConsumer } from '../eventlog/event-log.js';
import { originRegionOf } from '../eventlog/origin-region.js';
import { dlqOf, type Topics } from '../eventlog/topics.js';
import { deadLetterRecord } from '../notify/dlq.js';
import { detailOf } from '../protocol/error-codes.js';
import { mirroredTopicsOf } from '../replication/mirrored-topics.js';
import { joinWithRetry } from '../runtime/join-with-retry.js';
import type { OwnershipMetrics } from './ownership-metrics.js';
import { decodeOwnershipRecord } from '../ownership/ownership-records.js';
import type { OwnershipStore } from '../ownership/ownership-store.js';

export interface OwnershipApplierDeps {
  /** This region's event log: MirrorMaker 2 writes the other regions' `<source>.<prefix>.ownership` into it. */
  log: EventLog;
  topics: Topics;
  prefix: string;
  /** This region (HEXFLEET_REGION). */
  region: string;
  /** The regions replicated in (HEXFLEET_REPLICATE_FROM). */
  sources: readonly string[];
  store: OwnershipStore;
  /**
   * Called when a record moved a driver away from this region: what this
   * region still holds for it must be compensated (OrderSaga.yieldDriver).
   * A rejection hands the batch back (offered again): the record is applied
   * already, so the retry finds nothing to apply and calls this again.
   */
  onMovedAway: (driverId: string) => Promise<unknown>;
  partitions: number;
  metrics: OwnershipMetrics;
  logger: Logger;
  retryDelayMs?: number;
  joinRetryMs?: number;
}

/** The consumer group of a region's ownership applier (one per region; its gateways share the partitions). */
export function ownershipGroupOf(prefix: string, region: string): string {
  return `${prefix}.ownership.${region}`;
}

/**
 * Applies the other regions' ownership records (mirrored by MirrorMaker 2)
 * to this region's OwnershipStore, so every region converges to the
 * highest epoch of each driver:
 *
 *   region b: driver reconnects, a unreachable → b@2 ─▶ hexfleet.ownership ──MM2──▶ (a's Kafka) b.hexfleet.ownership ─▶ a's applier
 *   a's applier: apply b@2 over a@1 (higher epoch wins) → a's reservations of the driver fail the fence from now on
 *                                                       → onMovedAway: a's order holding the driver is compensated
 *
 * Guarantees: a record is applied through OwnershipStore.apply only (higher
 * epoch wins: duplicates, redeliveries and any order of arrival converge);
 * nothing is appended to this region's log (no loops); a record of this
 * region is skipped; offsets are committed after the batch is applied and
 * compensated; an undecodable record goes to `<mirrored topic>.dlq`. A
 * driver whose move was applied while its compensation failed is retried
 * with the batch, and the reservation fence refuses any new reservation of
 * it meanwhile.
 */
export class OwnershipApplier {
  private readonly sources = new Map<string, string>();
  private readonly stopping = new AbortController();
  private consumer: LogConsumer | undefined;
  private joining: Promise<void> | undefined;

  constructor(private readonly d: OwnershipApplierDeps) {
    for (const source of d.sources) this.sources.set(mirroredTopicsOf(source, d.topics).ownership, source);
  }

  /** Joins the group in the background, trying again every `joinRetryMs` (a Kafka that is down delays ownership, not the gateway). */
  start(): Promise<void> {
    this.joining ??= joinWithRetry(() => this.join(), {
      signal: this.stopping.signal, retryMs: this.d.joinRetryMs ?? 5_000, log: this.d.logger, what: 'ownership applier',
    });
    return this.joining;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.joining;
    await this.consumer?.stop();
  }

  private async join(): Promise<void> {
    const topics = [...this.sources.keys()];
    await this.d.log.ensureTopics([...topics.map((name) => ({ name, partitions: this.d.partitions })), ...topics.map((t) => ({ name: dlqOf(t), partitions: 1 }))]);
    const consumer = await this.d.log.consume({
      group: ownershipGroupOf(this.d.prefix, this.d.region), topics, fromBeginning: true,
      handler: (batch) => this.handle(batch), retryDelayMs: this.d.retryDelayMs ?? 1_000,
    });
    if (this.stopping.signal.aborted) {
      await consumer.stop();
      return;
    }
    this.consumer = consumer;
    this.d.logger.info({ topics }, 'ownership applier consuming the other regions\' ownership records');
  }

  private async handle(batch: LogBatch): Promise<void> {
    const source = this.sources.get(batch.topic);
    if (source === undefined) throw new Error(`ownership applier: no source for topic ${batch.topic}`);
    for (const r of batch.records) {
      if (originRegionOf(r.headers, source) === this.d.region) continue;
      let record;
      try {
        record = decodeOwnershipRecord(r.value, r.headers);
      } catch (err) {
        const reason = `undecodable: ${detailOf(err)}`;
        await this.d.log.append(dlqOf(r.topic), [deadLetterRecord(r, reason, 0)]);
        this.d.logger.warn({ topic: r.topic, offset: r.offset, err: reason }, 'ownership record dead-lettered');
        continue;
      }
      const { driverId, region, epoch } = record;
      const applied = await this.d.store.apply(driverId, { region, epoch });
      if (!applied.applied && applied.current.epoch === epoch && applied.current.region !== region) {
        this.d.metrics.conflicts.inc({ held: applied.current.region, incoming: region });
        this.d.logger.error({ driverId, held: applied.current, incoming: { region, epoch } },
          'ownership conflict: another region claimed this driver at the same epoch; each keeps its own claim until a higher epoch (a move) settles it');
      }
      if (applied.applied && applied.previous && applied.previous.region !== region) {
        this.d.metrics.moves.inc({ from: applied.previous.region, to: region });
        if (applied.previous.region === this.d.region) {
          this.d.logger.warn({ driverId, from: this.d.region, to: region, epoch }, 'driver ownership moved away from this region (a higher epoch arrived); what this region held for it is compensated');
        }
      }
      // Whenever another region owns the driver, not only on the move: a redelivered batch whose compensation failed
      // finds the record applied already. Compensating is idempotent, and finds nothing when nothing is held.
      if (applied.current.region !== this.d.region) await this.d.onMovedAway(driverId);
    }
  }
}
