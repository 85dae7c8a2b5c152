import type { Logger } from 'pino';
import type { EventLog, LogRecord } from '../eventlog/event-log.js';
import type { LogMetrics } from '../eventlog/log-metrics.js';
import { FailureLog } from '../runtime/failure-log.js';
import { orderEventRecord } from './order-events.js';
import type { OrderStore, OutboxEntry } from './order-store.js';

export interface OutboxRelayOptions {
  /** The store whose outbox is relayed (its commits record the events). */
  orders: OrderStore;
  /** Where they go: the deployment's event log. */
  log: EventLog;
  /** The orders topic, `<prefix>.orders` (Backend.topics.orders). */
  topic: string;
  /** `outboxDepth` is kept current; failed passes count as `errors{op="relay"}`. */
  metrics: LogMetrics;
  logger: Logger;
  /** Pause after a pass that found nothing (HEXFLEET_OUTBOX_RELAY_INTERVAL_MS); also the first backoff step. */
  intervalMs: number;
  /** Events read per step (default 200). */
  batchSize?: number;
  /** Longest pause after failed steps (default 5 s). */
  maxBackoffMs?: number;
}

/** Events read from the outbox per step: a few ms of Redis work and one produce request. */
const DEFAULT_BATCH = 200;
/** Longest wait between tries while the log (or the store) fails: short enough that a recovered log is used soon. */
const DEFAULT_MAX_BACKOFF_MS = 5_000;
/**
 * Bytes of event values per append, well under Kafka's default limit on one
 * record batch (message.max.bytes, about 1 MiB): one order's events go to one
 * partition, so a step of one busy order is one batch.
 */
const MAX_APPEND_BYTES = 512 * 1024;
/**
 * A standby relay looks in every this many idle intervals (1 s by default):
 * a read of one entry that often costs nothing, and the events of a relay
 * that died wait at most about two such periods before a standby takes over.
 */
const STANDBY_INTERVALS = 10;
/** The longest standby period, whatever the idle interval: a failover stays quick with a long interval too. */
const MAX_STANDBY_MS = 2_000;

/**
 * Publishes the order store's outbox to the orders topic and trims what the
 * log confirmed:
 *
 *   commit ──(same atomic step)──▶ outbox ──outbox(n)──▶ relay ──append, acks=all──▶ <prefix>.orders
 *                                    ▲                     │
 *                                    └──── trimOutbox ◀────┘ only after the append resolved
 *
 * Delivery is at least once. A relay that dies (or fails) after the append
 * and before the trim leaves the events in the outbox, and the next step of
 * any relay publishes them again: consumers deduplicate by the event id
 * `<orderId>:<version>`. Nothing is trimmed before the log confirmed it, so
 * no committed transition is ever missing from the log.
 *
 * Order. In each partition, the first copy of (orderId, v) comes after the
 * first copies of (orderId, 1 … v−1): a consumer that keeps the first copy
 * of each id (or drops versions it has passed) sees each order's versions
 * in order, whatever was repeated. Why: the outbox lists events in commit
 * order, which is version order per order, and a step reads from the oldest
 * event; so a step that publishes v also publishes, before it in the same
 * append, every earlier version not yet trimmed, and a trimmed one was
 * confirmed by the log before the trim, hence before this step read. One
 * order is one key, so one partition, where an append keeps its array order
 * (EventLog.append). An append that fails may have written some of its
 * records; Kafka writes one partition's part of an append as one record
 * batch (idempotent producer), so what it left of an order is a prefix, and
 * the retry repeats it, never overtakes it.
 *
 * Several relays (one per gateway, on one store). Correctness needs no
 * coordination: every relay reads from the oldest event, so the argument
 * above holds for any number of them, and trimming is idempotent. They are
 * not claiming work (a consumer group on the stream would hand an order's
 * v1 and v2 to two relays, and v2 could reach the log first). Two relays
 * stepping at once publish the same events twice, which consumers drop. To
 * keep that rare, one relay does the work and the others stand by:
 *
 *   active ──its trim finds some of its events already trimmed──▶ standby
 *     ▲     (another relay published them too)                     │
 *     └──── the oldest event is the same at two looks in a row ◀───┘
 *           (nobody is publishing: the active relay died or hangs)
 *
 * Of relays that collide, the one that trims first stays active (rarely,
 * overlapping reads leave both short and both stand by: then the oldest
 * event stops moving and they take over at their next looks). A standby
 * looks at the oldest position only (publishing nothing) every standby
 * period (STANDBY_INTERVALS idle intervals, jittered), so a dead relay's
 * events wait about two periods. Duplicates come from the collisions that
 * settle who is active (at start, and after a take-over) and from a
 * take-over of a relay that was only slow.
 *
 * Failures (log down, breaker open, store unreachable): the relay retries
 * with a jittered backoff from `intervalMs` up to `maxBackoffMs`, logs once
 * when it starts failing, a reminder a minute while it stays down, and once
 * when it publishes again (FailureLog), and counts each failed step. While the log is down the outbox grows; `outboxDepth` shows it.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly maxBackoffMs: number;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wake: (() => void) | undefined;
  private readonly failures: FailureLog;
  /** Set while standing by (see "Several relays"): the oldest position seen at the last look, '' for an empty outbox. */
  private standby: { head: string } | undefined;

  constructor(private readonly o: OutboxRelayOptions) {
    this.batchSize = o.batchSize ?? DEFAULT_BATCH;
    this.maxBackoffMs = o.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.failures = new FailureLog(o.logger, 'outbox relay', 'order events are not published (they wait in the outbox)', { fields: { topic: o.topic } });
  }

  /** Whether this relay stands by while another one publishes (see "Several relays"). */
  get standingBy(): boolean {
    return this.standby !== undefined;
  }

  /** Starts relaying in the background; a second call does nothing. */
  start(): void {
    if (this.running) return;
    this.stopped = false;
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  /** Stops after the step in hand (its append and trim) and waits for it. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  /**
   * Publishes what the outbox holds until a read finds it empty; resolves
   * with the events published. Rejects on the first failed step (what was
   * published before stays trimmed). For shutdown and tests; `start` runs
   * steps on its own.
   */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const step = await this.step();
      if (step.read === 0) return total;
      total += step.read;
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let pauseMs: number;
      try {
        if (this.standby && !(await this.headStuck(this.standby))) {
          pauseMs = jittered(this.standbyMs);
        } else {
          if (this.standby) this.o.logger.info({ topic: this.o.topic }, 'outbox relay: the outbox stopped moving; taking over');
          this.standby = undefined;
          const { read, trimmed } = await this.step();
          if (read > 0 && trimmed < read) {
            this.standby = { head: '' };
            this.o.logger.info({ topic: this.o.topic }, 'outbox relay: another relay publishes the same events; standing by');
          }
          pauseMs = this.standby ? jittered(this.standbyMs) : read === 0 ? this.o.intervalMs : 0;
        }
        failures = 0;
        this.failures.succeeded();
      } catch (err) {
        failures++;
        this.o.metrics.errors.inc({ op: 'relay' });
        this.failures.failed(err);
        await this.o.orders.outboxDepth().then((n) => this.o.metrics.outboxDepth.set(n), () => {});
        pauseMs = jittered(Math.min(this.maxBackoffMs, this.o.intervalMs * 2 ** Math.min(failures - 1, 30)));
      }
      if (pauseMs > 0) await this.pause(pauseMs);
    }
  }

  /**
   * A standby's look: true when the oldest event is the one it saw at its
   * last look, a whole standby period ago (nobody is publishing). Notes
   * what it saw, and keeps the depth gauge current.
   */
  private async headStuck(standby: { head: string }): Promise<boolean> {
    const head = (await this.o.orders.outbox(1))[0]?.position ?? '';
    this.o.metrics.outboxDepth.set(head === '' ? 0 : await this.o.orders.outboxDepth());
    const stuck = head !== '' && head === standby.head;
    standby.head = head;
    return stuck;
  }

  /** How often a standby looks in: every STANDBY_INTERVALS idle intervals, at most MAX_STANDBY_MS. */
  private get standbyMs(): number {
    return Math.min(MAX_STANDBY_MS, STANDBY_INTERVALS * this.o.intervalMs);
  }

  /**
   * One step: the oldest events (up to the batch size and MAX_APPEND_BYTES),
   * appended to the log, then trimmed. Returns how many it read and how many
   * of those its trim still found (fewer: another relay trimmed them first).
   */
  private async step(): Promise<{ read: number; trimmed: number }> {
    const { records, positions } = fitting(await this.o.orders.outbox(this.batchSize));
    if (records.length === 0) {
      this.o.metrics.outboxDepth.set(0);
      return { read: 0, trimmed: 0 };
    }
    await this.publish(records);
    const trimmed = await this.trim(positions);
    this.o.metrics.outboxDepth.set(await this.o.orders.outboxDepth());
    return { read: records.length, trimmed };
  }

  /** Appends the events' records, in outbox order, and resolves once the log confirmed all of them. */
  protected publish(records: readonly LogRecord[]): Promise<void> {
    return this.o.log.append(this.o.topic, records);
  }

  /** Trims published entries; only ever called after `publish` resolved for them. */
  protected trim(positions: readonly string[]): Promise<number> {
    return this.o.orders.trimOutbox(positions);
  }


  /** Waits `ms`, or until stop() (an unref'd timer: a relay never keeps the process alive). */
  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }
}

/** The records of the longest prefix of `entries` within MAX_APPEND_BYTES (at least one: a larger event goes alone), and their positions. */
function fitting(entries: readonly OutboxEntry[]): { records: LogRecord[]; positions: string[] } {
  const records: LogRecord[] = [];
  const positions: string[] = [];
  let bytes = 0;
  for (const e of entries) {
    const record = orderEventRecord(e.event);
    bytes += record.value.length;
    if (bytes > MAX_APPEND_BYTES && records.length > 0) break;
    records.push(record);
    positions.push(e.position);
  }
  return { records, positions };
}

/** Between half of `ms` and `ms`: relays that failed or collided together do not retry in lockstep. */
function jittered(ms: number): number {
  return Math.round(ms / 2 + Math.random() * (ms / 2));
}
