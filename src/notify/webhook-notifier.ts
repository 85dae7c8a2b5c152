import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type Config, envName } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import type { EventLog, LogBatch, LogConsumer, LoggedRecord } from '../eventlog/event-log.js';
import type { LogMetrics } from '../eventlog/log-metrics.js';
import { dlqOf, type Topics } from '../eventlog/topics.js';
import { decodeOrderEvent, orderEventId, type OrderEvent } from '../orders/order-events.js';
import { detailOf } from '../protocol/error-codes.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import { retryDelayMs } from '../runtime/backoff.js';
import { DeliveryError, deliveryError } from './delivery-errors.js';
import { deadLetterRecord } from './dlq.js';
import type { NotifyMetrics } from './notify-metrics.js';
import { ReceiverBreaker } from './receiver-breaker.js';
import { webhookBody } from './webhook-body.js';
import { WebhookClient } from './webhook-client.js';

export type NotifierConfig = Pick<
  Config,
  'webhookUrl' | 'webhookSecret' | 'webhookTimeoutMs' | 'webhookMaxAttempts' | 'webhookBackoffMs' | 'webhookBackoffMaxMs' | 'webhookBreakerThreshold' | 'webhookHalfOpenAfterMs' | 'kafkaPartitions'
>;

/** The notifier's consumer group: `<HEXFLEET_KAFKA_TOPIC_PREFIX>.notify`. Every notifier of a deployment joins it, so each partition has one deliverer. */
export function notifyGroupOf(prefix: string): string {
  return `${prefix}.notify`;
}

export interface WebhookNotifierDeps {
  log: EventLog;
  topics: Topics;
  /** See notifyGroupOf. */
  group: string;
  config: NotifierConfig;
  logger: Logger;
  metrics: NotifyMetrics;
  /** The event log's metrics: consumer lag, DLQ depth and errors (`deliver`, `dead_letter`, `lag`) are reported there. */
  logMetrics: LogMetrics;
  /** How often lag and DLQ depth are measured (default 5 s: a gauge, not an alarm clock). */
  lagIntervalMs?: number;
  /** Pause before a batch whose dead-letter append failed is handed out again (default 1 s). */
  retryDelayMs?: number;
  /** For the backoff jitter (default Math.random). */
  random?: () => number;
}

const DEFAULT_LAG_INTERVAL_MS = 5_000;
const DEFAULT_RETRY_DELAY_MS = 1_000;

/**
 * Delivers every order event of `<prefix>.orders` to the order service by
 * HTTP POST (HEXFLEET_WEBHOOK_URL): the seed's "asynchronous processing of
 * external calls" — the transition is committed and logged first, and the
 * call happens here, decoupled, with its own retries.
 *
 * Guarantees:
 * - At least once. A record's offset is committed (EventLog.consume) only
 *   after it was delivered (2xx) or dead-lettered (the DLQ append
 *   confirmed). A notifier that dies or stops mid-batch leaves the batch
 *   uncommitted, and the next member of the group delivers it again: only
 *   events whose delivery was not committed can arrive twice, always with
 *   the same `X-Hexfleet-Event-Id` (`<orderId>:<version>`), by which the
 *   receiver deduplicates.
 * - Order per order. Records of one orderId share a partition, and a
 *   partition is delivered one event at a time in offset order: an event is
 *   sent only after the one before it was delivered or dead-lettered.
 *   Whether partitions are delivered concurrently is the EventLog's choice
 *   (KafkaEventLog hands a member one batch at a time): throughput grows
 *   with members of the group, up to the partition count.
 * - Failures. A 2xx is success. 3xx and 4xx other than 408/429 are final:
 *   dead-lettered at once (`rejected`). 408, 429, 5xx, timeouts
 *   (HEXFLEET_WEBHOOK_TIMEOUT_MS per attempt) and connection errors are
 *   retried after a full-jitter exponential backoff (a Retry-After header
 *   raises the wait, up to HEXFLEET_WEBHOOK_BACKOFF_MAX_MS), up to
 *   HEXFLEET_WEBHOOK_MAX_ATTEMPTS attempts, then dead-lettered
 *   (`attempts_exhausted`). A record that is not an order event is
 *   dead-lettered at once (`undecodable`). See delivery-errors.ts.
 * - Breaker. HEXFLEET_WEBHOOK_BREAKER_THRESHOLD consecutive retryable
 *   failures open a circuit breaker shared by all partitions: deliveries then
 *   wait (the batch is neither failed nor committed) and one probe is sent
 *   every HEXFLEET_WEBHOOK_HALF_OPEN_AFTER_MS. Attempts the breaker holds
 *   back cost an event none of its attempts. See receiver-breaker.ts.
 * - A group that never committed starts at the beginning of the retained
 *   log: a new deployment's receiver gets every retained event once.
 *
 * Logs: one line per change of the receiver's state (down, up) and one per
 * dead letter; never one per delivery. Metrics: NotifyMetrics, plus lag per
 * partition and DLQ depth on LogMetrics.
 */
export class WebhookNotifier {
  private readonly client: WebhookClient;
  private readonly breaker: ReceiverBreaker;
  private readonly stopping = new AbortController();
  private readonly lagTask: PeriodicTask;
  private readonly dlqTopic: string;
  /** Per partition, the last offset of a failed batch already handled here: a retried batch skips it (fewer duplicates). */
  private readonly handledUpTo = new Map<string, bigint>();
  private consumer: LogConsumer | undefined;

  constructor(private readonly deps: WebhookNotifierDeps) {
    const c = deps.config;
    let url: URL;
    try {
      url = new URL(c.webhookUrl);
    } catch {
      throw new ConfigError(`${envName('webhookUrl')} must be an http(s) URL, got "${c.webhookUrl}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${envName('webhookUrl')} must be an http(s) URL, got "${c.webhookUrl}"`);
    if (!c.webhookSecret) throw new ConfigError(`${envName('webhookSecret')} is required with ${envName('webhookUrl')}: every webhook is signed`);
    this.client = new WebhookClient({ url: c.webhookUrl, secret: c.webhookSecret, timeoutMs: c.webhookTimeoutMs });
    const where = url.origin + url.pathname;
    this.breaker = new ReceiverBreaker({
      threshold: c.webhookBreakerThreshold,
      halfOpenAfterMs: c.webhookHalfOpenAfterMs,
      onReceiverChange: (up, cause) =>
        up
          ? deps.logger.info({ url: where }, 'webhook receiver is up again: deliveries resume')
          : deps.logger.error({ url: where, err: cause === undefined ? undefined : detailOf(cause) }, 'webhook receiver is down: deliveries wait (circuit breaker open)'),
      onState: (s) => deps.metrics.breakerState.set(s),
    });
    deps.metrics.breakerState.set(0);
    this.dlqTopic = dlqOf(deps.topics.orders);
    this.lagTask = new PeriodicTask(() => this.measureLag(), deps.lagIntervalMs ?? DEFAULT_LAG_INTERVAL_MS);
  }

  /** Creates the orders and DLQ topics if missing, joins the group, and starts measuring lag. Resolves once joined. */
  async start(): Promise<void> {
    if (this.consumer) throw new Error('the webhook notifier is already started');
    const { orders } = this.deps.topics;
    const partitions = this.deps.config.kafkaPartitions;
    await this.deps.log.ensureTopics([{ name: orders, partitions }, { name: this.dlqTopic, partitions }]);
    this.consumer = await this.deps.log.consume({
      group: this.deps.group,
      topics: [orders],
      fromBeginning: true,
      handler: (batch) => this.handle(batch),
      retryDelayMs: this.deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    });
    this.lagTask.start();
  }

  /**
   * Aborts deliveries in flight (their batches stay uncommitted: the next
   * member of the group delivers them), leaves the group, stops measuring.
   * Does not close the EventLog (the caller owns it). Idempotent.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.consumer?.stop();
    await this.lagTask.stop();
  }

  /**
   * Measures lag and DLQ depth now (also done every lagIntervalMs). Every
   * member of the group reports the lag of every partition (from the
   * group's committed offsets, not its own assignment): aggregate the
   * instances with max, not sum.
   */
  async measureLag(): Promise<void> {
    const { log, group, logMetrics } = this.deps;
    const topic = this.deps.topics.orders;
    try {
      const [end, committed, dlqEnd] = await Promise.all([log.endOffsets(topic), log.groupOffsets(group, topic), log.endOffsets(this.dlqTopic)]);
      for (const [p, e] of Object.entries(end)) {
        // A partition the group never committed (-1 or absent) counts from 0: its whole retained length, at most.
        const c = committed[Number(p)];
        const from = c === undefined || BigInt(c) < 0n ? 0n : BigInt(c);
        const lag = BigInt(e) - from;
        logMetrics.consumerLag.set({ group, topic, partition: p }, Number(lag > 0n ? lag : 0n));
      }
      logMetrics.dlqDepth.set({ topic: this.dlqTopic }, Number(Object.values(dlqEnd).reduce((s, o) => s + BigInt(o), 0n)));
    } catch (err) {
      logMetrics.errors.inc({ op: 'lag' });
      this.deps.logger.debug({ err: detailOf(err) }, 'webhook notifier: could not measure lag');
    }
  }

  private async handle(batch: LogBatch): Promise<void> {
    const key = `${batch.topic}:${batch.partition}`;
    const done = this.handledUpTo.get(key);
    for (const record of batch.records) {
      if (done !== undefined && BigInt(record.offset) <= done) continue;
      await this.handleRecord(record);
      this.handledUpTo.set(key, BigInt(record.offset));
    }
    this.handledUpTo.delete(key);
  }

  /** Delivers one record or dead-letters it; rejects only when stopping or when the dead-letter append failed. */
  private async handleRecord(record: LoggedRecord): Promise<void> {
    let event: OrderEvent;
    try {
      event = decodeOrderEvent(record.value, record.headers);
    } catch (err) {
      return this.deadLetter(record, deliveryError('undecodable', detailOf(err)), 0);
    }
    const c = this.deps.config;
    const { metrics } = this.deps;
    const signal = this.stopping.signal;
    const id = orderEventId(event.orderId, event.version);
    const body = JSON.stringify(webhookBody(event));
    for (let attempt = 1; ; attempt++) {
      let failure: DeliveryError;
      try {
        const outcome = await this.breaker.run(() => this.client.post(id, body, attempt, signal), signal);
        if (outcome.ok) {
          metrics.attempts.inc({ result: 'ok' });
          metrics.deliveries.inc({ outcome: 'delivered' });
          if (Number.isFinite(event.at)) metrics.latency.observe(Math.max(0, Date.now() - event.at) / 1000);
          return;
        }
        metrics.attempts.inc({ result: outcome.error.code });
        return this.deadLetter(record, outcome.error, attempt, id);
      } catch (err) {
        if (!(err instanceof DeliveryError) || err.code === 'stopping') throw err;
        failure = err;
      }
      metrics.attempts.inc({ result: failure.code });
      this.deps.logMetrics.errors.inc({ op: 'deliver' });
      if (attempt >= c.webhookMaxAttempts) {
        return this.deadLetter(record, deliveryError('attempts_exhausted', `${attempt} attempts failed; the last: ${failure.message}`), attempt, id);
      }
      const wait = Math.max(retryDelayMs(attempt, c.webhookBackoffMs, c.webhookBackoffMaxMs, this.deps.random), Math.min(failure.retryAfterMs ?? 0, c.webhookBackoffMaxMs));
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw deliveryError('stopping');
      }
    }
  }

  private async deadLetter(record: LoggedRecord, error: DeliveryError, attempts: number, eventId?: string): Promise<void> {
    try {
      await this.deps.log.append(dlqOf(record.topic), [deadLetterRecord(record, error.message, attempts)]);
    } catch (err) {
      this.deps.logMetrics.errors.inc({ op: 'dead_letter' });
      this.deps.logger.warn({ partition: record.partition, offset: record.offset, err: detailOf(err) }, 'webhook notifier: dead-letter append failed; the batch will be retried');
      throw err;
    }
    this.deps.metrics.deliveries.inc({ outcome: 'dead_lettered' });
    this.deps.metrics.deadLetters.inc({ reason: error.code });
    this.deps.logger.warn(
      { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, eventId, attempts, reason: error.code, err: error.message, dlq: dlqOf(record.topic) },
      'order event dead-lettered',
    );
  }
}
