import { type Admin, Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import type {
  ConsumeOptions, EventLog, LogBatch, LogConsumer, LogRecord, PartitionOffsets, ReadFrom, TopicSpec,
} from '../../eventlog/event-log.js';
import { HexfleetError } from '../../protocol/error-codes.js';
import { KafkaAppender } from './kafka-appender.js';
import { kafkaCall } from './kafka-call.js';
import { KafkaLogConsumer } from './kafka-log-consumer.js';
import { readTopic } from './kafka-log-reader.js';
import { CALL_RETRY, type KafkaEventLogOptions, kafkaClientConfig } from './kafka-options.js';
import { kafkajsLogCreator } from './kafkajs-logger.js';

/**
 * The EventLog on Apache Kafka, through kafkajs. Connections open on first
 * use: constructing one never fails for an unreachable cluster.
 *
 *   KafkaEventLog ──┬─ KafkaAppender (idempotent producer, acks=all) ◀── append
 *                   ├─ admin client ◀── ensureTopics, endOffsets, groupOffsets, check, read's offsets
 *                   ├─ KafkaLogConsumer per consume() (its own group member)
 *                   └─ a throw-away group member per read()
 *
 * append: resolves once every in-sync replica has the records. Rejects with
 * `log_unavailable` after `timeoutMs` (from the call, connecting included)
 * or on an error. The append is NOT cancelled by that: kafkajs may still be
 * retrying it (for ≈ 2.5 s more at most, see CALL_RETRY), so some or all of
 * its records may reach the log after the rejection — behind appends made
 * since, and possibly twice if the caller appends them again (consumers
 * deduplicate, see the contract). The producer that failed is replaced by a
 * fresh one (see KafkaAppender), so nothing appended later can be lost to
 * the broker's duplicate detection.
 *
 * consume / read: see KafkaLogConsumer and readTopic. Kafka offsets are
 * 64-bit: they travel as decimal strings and are compared as bigint.
 */
export class KafkaEventLog implements EventLog {
  private readonly kafka: Kafka;
  private readonly appender: KafkaAppender;
  private readonly admin: Admin;
  private adminConnected: Promise<void> | undefined;
  private readonly consumers = new Set<KafkaLogConsumer>();
  /** Aborted by close(): every read() in progress rejects with `log_unavailable`. */
  private readonly closed = new AbortController();
  private readonly reads = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: KafkaEventLogOptions,
    private readonly log: Logger,
  ) {
    this.kafka = new Kafka({ ...kafkaClientConfig(options), logLevel: logLevel.WARN, logCreator: kafkajsLogCreator(log) });
    this.appender = new KafkaAppender(this.kafka, options.timeoutMs);
    this.admin = this.kafka.admin({ retry: { ...CALL_RETRY } });
  }

  append(topic: string, records: readonly LogRecord[]): Promise<void> {
    return this.appender.append(topic, records);
  }

  async consume(options: ConsumeOptions): Promise<LogConsumer> {
    this.assertOpen();
    const member = await KafkaLogConsumer.start(this.kafka, this.options, options, this.log);
    if (this.closing) {
      await member.stop();
      this.assertOpen();
    }
    this.consumers.add(member);
    const stop = member.stop.bind(member);
    return {
      stop: async () => {
        await stop();
        this.consumers.delete(member);
      },
    };
  }

  /**
   * See the contract and readTopic. Partitions missing from `from.offsets`
   * are read from their beginning; an offset before the start of the log
   * (retention) reads from the start. Partitions where nothing was read are
   * absent from the result. A handler rejection rejects read() with that
   * error, as it is; other failures reject with `log_unavailable`.
   */
  async read(topic: string, from: ReadFrom, toTime: number | undefined, handler: (batch: LogBatch) => Promise<void>): Promise<PartitionOffsets> {
    await this.connectAdmin();
    const reading = readTopic(this.kafka, this.admin, this.options, topic, from, toTime, handler, this.closed.signal);
    this.reads.add(reading);
    try {
      return await reading;
    } finally {
      this.reads.delete(reading);
    }
  }

  /**
   * Creates the missing topics (replication factor from the options,
   * min.insync.replicas half of it, rounded up) and waits until every partition of
   * them has a leader, so that an append right after does not fail;
   * existing topics are left as they are.
   */
  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    await this.connectAdmin();
    const deadline = Date.now() + this.options.timeoutMs;
    await kafkaCall('ensureTopics', this.options.timeoutMs, (async () => {
      const existing = new Set(await this.admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.name));
      if (missing.length === 0) return;
      try {
        await this.admin.createTopics({
          // kafkajs's own wait fails when the metadata does not know the topic yet (UNKNOWN_TOPIC_OR_PARTITION): waitForLeaders below retries that.
          waitForLeaders: false,
          timeout: this.options.timeoutMs,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: this.options.replicationFactor,
            configEntries: [{ name: 'min.insync.replicas', value: String(minInSyncReplicas(this.options.replicationFactor)) }],
          })),
        });
      } catch (err) {
        // Another process created some of them meanwhile: fine, as long as that is all that went wrong.
        const errors = (err as { errors?: { type?: string }[] }).errors;
        if (!errors?.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) throw err;
      }
      await this.waitForLeaders(missing.map((t) => t.name), deadline);
    })());
  }

  /** The next offset to be written per partition (the high watermark). */
  async endOffsets(topic: string): Promise<PartitionOffsets> {
    await this.connectAdmin();
    const ends = await kafkaCall(`endOffsets ${topic}`, this.options.timeoutMs, this.admin.fetchTopicOffsets(topic));
    return Object.fromEntries(ends.map((e) => [e.partition, e.high]));
  }

  /** The group's committed offsets (the next offset it will read) per partition; partitions it never committed are absent. */
  async groupOffsets(group: string, topic: string): Promise<PartitionOffsets> {
    await this.connectAdmin();
    const res = await kafkaCall(`groupOffsets ${group}`, this.options.timeoutMs, this.admin.fetchOffsets({ groupId: group, topics: [topic] }));
    const out: PartitionOffsets = {};
    for (const p of res.find((t) => t.topic === topic)?.partitions ?? []) if (BigInt(p.offset) >= 0n) out[p.partition] = p.offset;
    return out;
  }

  /** Asks the cluster for its brokers (a metadata round trip), within the timeout. */
  async check(): Promise<void> {
    await this.connectAdmin();
    const cluster = await kafkaCall('check', this.options.timeoutMs, this.admin.describeCluster());
    if (cluster.brokers.length === 0) throw new HexfleetError('log_unavailable', 'the Kafka cluster reports no brokers');
  }

  /**
   * Stops every consumer (each after its batch in hand) and every read (it
   * rejects with `log_unavailable` once its handler returns), then the
   * producers (see KafkaAppender.close) and the admin client.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed.abort();
      await Promise.all([...this.consumers].map((c) => c.stop()));
      await Promise.allSettled([...this.reads]);
      this.consumers.clear();
      await this.appender.close(2 * this.options.timeoutMs);
      if (this.adminConnected) await this.adminConnected.catch(() => {});
      await this.admin.disconnect().catch(() => {});
    })();
    return this.closing;
  }

  /** Polls the metadata until every partition of `topics` has a leader (stops at `deadline`: the caller has timed out by then). */
  private async waitForLeaders(topics: string[], deadline: number): Promise<void> {
    for (;;) {
      const ready = await this.admin.fetchTopicMetadata({ topics }).then(
        (m) => m.topics.length === topics.length && m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)),
        () => false,
      );
      if (ready || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Connects the admin client once; a failed connect is retried by the next call. */
  private async connectAdmin(): Promise<void> {
    this.assertOpen();
    const connecting = (this.adminConnected ??= this.admin.connect());
    try {
      await kafkaCall('connect', this.options.timeoutMs, connecting);
    } catch (err) {
      if (this.adminConnected === connecting) this.adminConnected = undefined;
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new HexfleetError('log_unavailable', 'the Kafka event log is closed');
  }
}

/**
 * acks=all waits only for the replicas in sync at the time: with the broker
 * default (1) an append is acked by the leader alone once its followers
 * fall behind, and lost with it. Half, rounded up (2 of 3), keeps an acked append
 * on two machines and still takes appends with one broker down.
 */
function minInSyncReplicas(replicationFactor: number): number {
  return Math.max(1, Math.ceil(replicationFactor / 2));
}
