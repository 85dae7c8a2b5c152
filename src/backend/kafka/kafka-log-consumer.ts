import type { Batch, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumeOptions, LogConsumer } from '../../eventlog/event-log.js';
import { asLogUnavailable, kafkaCall } from './kafka-call.js';
import { consumerTiming, type KafkaEventLogOptions } from './kafka-options.js';
import { toLogBatch } from './kafka-records.js';
import { isSelfHealing } from './kafkajs-logger.js';

/**
 * One member of a consumer group, started by KafkaEventLog.consume().
 *
 * Commit after processing: kafkajs hands each partition's fetched records to
 * `eachBatch`; the handler runs, and only once it resolved is the batch's
 * last offset resolved, which kafkajs commits as eachBatch returns (auto
 * commit with neither an interval nor a threshold commits the resolved
 * offsets after every batch, and never anything that was not resolved).
 *
 *   fetch ─▶ handler(batch) ─ resolves ─▶ resolveOffset(last) ─▶ commit ─▶ next fetch
 *                  │
 *                  └ rejects ─▶ wait retryDelayMs ─▶ handler(same batch) …
 *                               (given up, uncommitted, when the member stops
 *                                or the group rebalances: the next owner of the
 *                                partition starts from the last commit)
 *
 * While a handler runs the member keeps heartbeating, so a slow handler
 * keeps its partitions; when a rebalance starts meanwhile, it has until the
 * rebalance timeout to finish and rejoin, or it is dropped from the group
 * and its late commit is refused (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID).
 */
export class KafkaLogConsumer implements LogConsumer {
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;

  private constructor(
    private readonly consumer: Consumer,
    private readonly options: ConsumeOptions,
    private readonly log: Logger,
    private readonly heartbeatIntervalMs: number,
    private readonly retryDelayMs: number,
  ) {}

  /** Joins the group; rejects with `log_unavailable` (the consumer stopped) when it could not within the timeout plus a rebalance. */
  static async start(kafka: Kafka, o: KafkaEventLogOptions, c: ConsumeOptions, log: Logger): Promise<KafkaLogConsumer> {
    const timing = consumerTiming(o);
    const consumer = kafka.consumer({
      groupId: c.group,
      sessionTimeout: timing.sessionTimeoutMs,
      rebalanceTimeout: timing.rebalanceTimeoutMs,
      heartbeatInterval: timing.heartbeatIntervalMs,
      maxWaitTimeInMs: timing.fetchMaxWaitMs,
      allowAutoTopicCreation: false,
    });
    const member = new KafkaLogConsumer(consumer, c, log.child({ group: c.group }), timing.heartbeatIntervalMs, c.retryDelayMs ?? timing.retryDelayMs);
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    member.watchCrashes();
    const stopped = (): boolean => member.stopping.signal.aborted;
    const joining = (async () => {
      await consumer.connect();
      if (stopped()) return;
      await consumer.subscribe({ topics: [...c.topics], fromBeginning: c.fromBeginning });
      if (stopped()) return;
      await consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => member.eachBatch(payload),
      });
      await joined;
    })();
    try {
      await kafkaCall(`join group ${c.group}`, o.timeoutMs + timing.rebalanceTimeoutMs, joining);
    } catch (err) {
      await member.stop();
      // A join that completes after the timeout must not leave a member running: kafkajs's
      // stop() does nothing while the first join is still in progress.
      const again = (): Promise<void> => consumer.disconnect().catch(() => {});
      void joining.then(again, again);
      throw asLogUnavailable(`consume ${c.topics.join(',')} as ${c.group}`, err);
    }
    return member;
  }

  /**
   * kafkajs restarts a crashed consumer by itself (a retriable error: the
   * broker is gone, the coordinator moved or is loading): logged once per
   * outage, with a line when the member is back in its group. A consumer it
   * does not restart is an error: it consumes nothing from then on.
   */
  private watchCrashes(): void {
    let crashes = 0;
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      const { error, restart } = e.payload;
      if (this.stopping.signal.aborted) return;
      if (!restart) this.log.error({ err: error }, 'event log consumer crashed and stopped: it consumes nothing until the process restarts');
      else if (crashes++ === 0 && !isSelfHealing(error.message)) this.log.warn({ err: error }, 'event log consumer crashed; kafkajs restarts it until the broker answers');
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      if (crashes > 0) this.log.info({ crashes }, 'event log consumer is back in its group');
      crashes = 0;
    });
  }

  /**
   * Waits for the handler of the batch in hand (its offset is then
   * committed), leaves the group and disconnects. A batch whose handler
   * rejected is not retried any more: it stays uncommitted for the next
   * member. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      await this.consumer.disconnect().catch((err: unknown) => this.log.warn({ err }, 'event log consumer did not disconnect cleanly'));
    })();
    return this.stopped;
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty()) return;
    const logBatch = toLogBatch(batch);
    let rebalancing = false;
    const beat = (): Promise<void> =>
      heartbeat().catch((err: { type?: string }) => {
        if (err.type === 'REBALANCE_IN_PROGRESS' || err.type === 'ILLEGAL_GENERATION' || err.type === 'UNKNOWN_MEMBER_ID') rebalancing = true;
      });
    // kafkajs heartbeats only between batches: keep a slow handler's membership alive.
    const ticker = setInterval(() => void beat(), this.heartbeatIntervalMs);
    const keepGoing = (): boolean => isRunning() && !isStale() && !rebalancing && !this.stopping.signal.aborted;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.options.handler(logBatch);
          break;
        } catch (err) {
          this.log.warn({ err, ...where(batch), attempt }, 'event log handler rejected a batch; it gets it again');
        }
        await beat();
        if (!keepGoing()) return; // not resolved: whoever reads the partition next starts at this batch again
        await sleep(this.retryDelayMs, this.stopping.signal);
        if (!keepGoing()) return;
      }
    } finally {
      clearInterval(ticker);
    }
    resolveOffset(batch.lastOffset());
  }
}

function where(batch: Batch): { topic: string; partition: number; firstOffset: string | null; lastOffset: string } {
  return { topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset() };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
