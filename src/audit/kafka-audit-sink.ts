import type { Logger } from 'pino';
import type { EventLog, LogRecord } from '../eventlog/event-log.js';
import { HEADERS } from '../eventlog/topics.js';
import { retryDelayMs } from '../runtime/backoff.js';
import { FailureLog } from '../runtime/failure-log.js';
import type { AuditSink } from './audit-sink.js';

export interface KafkaAuditSinkOptions {
  /** `<prefix>.audit`. */
  topic: string;
  /** Partitions of the topic when this sink creates it. */
  partitions: number;
  /** Record key: one gateway's lines stay in one partition, in order. */
  key: string;
  /** Most lines held while Kafka is slow or down; past it new lines are dropped and counted. */
  maxBuffered: number;
  /** How long close() waits for the held lines to be appended. */
  closeTimeoutMs: number;
}

/** Lines per append: large enough that a burst goes out in a few round trips, small enough to stay far below Kafka's message size limit. */
const MAX_BATCH = 500;
/** Retry delay after a failed append (full jitter, doubling up to the maximum): a broker that is down is asked once in a while, not hammered. */
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 10_000;

/**
 * Audit lines appended to the `<prefix>.audit` topic of the event log.
 *
 * `write` only queues (a bounded in-memory buffer); one append at a time
 * sends what is queued, in order. While Kafka is down the buffer holds up to
 * `maxBuffered` lines, retried with backoff; lines beyond that are dropped
 * and counted, so an outage costs memory up to the bound and never a request.
 * Lines of one append may reach the topic twice if an append timed out after
 * the broker took it (the event log's contract): a reader deduplicates by the
 * whole line if it must.
 */
export class KafkaAuditSink implements AuditSink {
  readonly name = 'kafka';
  private buffer: string[] = [];
  private sending: Promise<void> | undefined;
  private topicReady = false;
  /** Appends failed in a row (the backoff's attempt). */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly outage: FailureLog;
  private closed = false;

  constructor(
    private readonly eventLog: Pick<EventLog, 'append' | 'ensureTopics' | 'close'>,
    private readonly options: KafkaAuditSinkOptions,
    private readonly log: Logger,
    private readonly hooks: { onDrop: (sink: string, lines: number) => void; onBuffered: (lines: number) => void },
  ) {
    this.outage = new FailureLog(log, 'audit appends to Kafka', `lines are held (up to ${options.maxBuffered}), then dropped and counted`, { level: 'error' });
  }

  write(line: string): boolean {
    if (this.closed || this.buffer.length >= this.options.maxBuffered) {
      this.hooks.onDrop(this.name, 1);
      return false;
    }
    this.buffer.push(line);
    this.hooks.onBuffered(this.buffer.length);
    if (!this.sending && !this.retryTimer) this.sending = this.send();
    return true;
  }

  reopen(): void {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.buffer.length > 0 && !this.sending) this.sending = this.send();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.sending ?? Promise.resolve(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.closeTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (this.buffer.length > 0) {
      this.hooks.onDrop(this.name, this.buffer.length);
      this.log.warn({ lines: this.buffer.length }, 'audit lines not appended to Kafka before shutdown: dropped');
      this.buffer = [];
      this.hooks.onBuffered(0);
    }
    await this.eventLog.close().catch(() => {});
  }

  /** Appends what is buffered, a batch at a time, until it is empty or an append fails (then a retry is scheduled, unless closing). */
  private async send(): Promise<void> {
    try {
      while (this.buffer.length > 0) {
        if (!this.topicReady) {
          await this.eventLog.ensureTopics([{ name: this.options.topic, partitions: this.options.partitions }]);
          this.topicReady = true;
        }
        const batch = this.buffer.slice(0, MAX_BATCH);
        const records: LogRecord[] = batch.map((line) => ({ key: this.options.key, value: Buffer.from(line.trimEnd()), headers: { [HEADERS.schema]: 'audit/1' } }));
        await this.eventLog.append(this.options.topic, records);
        this.buffer.splice(0, batch.length);
        this.hooks.onBuffered(this.buffer.length);
        this.failures = 0;
        this.outage.succeeded();
      }
    } catch (err) {
      this.failures++;
      this.outage.failed(err, { held: this.buffer.length });
      if (!this.closed) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.sending = this.send();
        }, retryDelayMs(this.failures, RETRY_MIN_MS, RETRY_MAX_MS));
        this.retryTimer.unref();
      }
    } finally {
      this.sending = undefined;
    }
  }
}
