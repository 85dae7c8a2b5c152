import type { EventLog, LoggedRecord, LogRecord } from '../eventlog/event-log.js';
import { dlqOf, HEADERS } from '../eventlog/topics.js';

/** Headers of the redrive bookkeeping (the dead-letter ones are in eventlog's HEADERS). */
export const REDRIVE_HEADERS = {
  /** On a record appended back to its origin topic: `<dlq topic>/<partition>:<offset>` of the dead letter it came from. */
  redrivenFrom: 'hexfleet-redriven-from',
} as const;

/** A dead letter's error header is for humans; a receiver's whole error page is not. */
const MAX_ERROR_CHARS = 1000;

/**
 * The dead letter of `record`: the same key, value and headers, plus why
 * (`hexfleet-error`, which starts with a DeliveryFailures code), how many
 * delivery attempts were made (`hexfleet-attempts`; 0 when it could not even
 * be decoded) and where it came from (`hexfleet-origin-topic`,
 * `-partition`, `-offset`). Its timestamp is when it was dead-lettered.
 */
export function deadLetterRecord(record: LoggedRecord, error: string, attempts: number): LogRecord {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      [HEADERS.error]: error.length > MAX_ERROR_CHARS ? error.slice(0, MAX_ERROR_CHARS) + '…' : error,
      [HEADERS.attempts]: String(attempts),
      [HEADERS.originTopic]: record.topic,
      [HEADERS.originPartition]: String(record.partition),
      [HEADERS.originOffset]: record.offset,
    },
  };
}

/** The topic that records which dead letters were redriven (one partition: a handful of records per redrive). */
export function redrivesOf(dlqTopic: string): string {
  return `${dlqTopic}.redriven`;
}

/** A record of a dead-letter topic, read back. */
export interface DeadLetter {
  /** `<partition>:<offset>` in the dead-letter topic: how the dlq commands name it. */
  position: string;
  partition: number;
  offset: string;
  /** When it was dead-lettered. */
  timestamp: number;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  error: string;
  attempts: number | undefined;
  origin: { topic: string; partition: number; offset: string } | undefined;
  /** When a redrive of it was recorded; undefined if never. */
  redrivenAt: number | undefined;
}

export interface RedriveResult {
  /** Appended back to their origin topic (and recorded as redriven). */
  redriven: DeadLetter[];
  /** Redriven before: not appended again. */
  skipped: DeadLetter[];
  /** Asked for but not in the dead-letter topic. */
  missing: string[];
}

/** `"3:17"` → `{ partition: 3, offset: "17" }`; undefined for anything else. */
export function parsePosition(s: string): { partition: number; offset: string } | undefined {
  const m = /^(\d{1,9}):(\d{1,19})$/.exec(s.trim());
  return m ? { partition: Number(m[1]), offset: BigInt(m[2]!).toString() } : undefined;
}

/**
 * The dead-letter topic of one consumed topic (`dlqOf(topic)`), for
 * operators: list, inspect, redrive.
 *
 * Redrive appends a dead letter back to its origin topic — same key and
 * value, its original headers without the dead-letter ones, plus
 * `hexfleet-redriven-from` — so the consumers handle it again as a new
 * record (a redriven order event keeps its event id: the receiver still
 * deduplicates it). Then it records the redrive in `<dlq>.redriven` (key:
 * the position). Redrive is idempotent per dead letter for redrives that run
 * one after another: a position already recorded is skipped. Two redrives
 * running at the same moment, or one that died between its two appends, may
 * append a record twice; consumers then see the event twice, which they must
 * tolerate anyway (at-least-once), and the receiver deduplicates by event id.
 * A dead letter that fails again becomes a new dead letter (a new position),
 * which can be redriven in turn.
 *
 * Reads go through `EventLog.read` (outside any group, nothing committed):
 * a dead-letter topic is small by nature, so each command reads it whole.
 */
export class DeadLetterQueue {
  readonly dlqTopic: string;
  readonly redrivesTopic: string;

  constructor(
    private readonly log: EventLog,
    /** The consumed topic whose dead letters these are. */
    readonly topic: string,
    /** Partitions of the dead-letter topic if it has to be created. */
    private readonly partitions = 1,
  ) {
    this.dlqTopic = dlqOf(topic);
    this.redrivesTopic = redrivesOf(this.dlqTopic);
  }

  /** Every dead letter, in (partition, offset) order, with whether it was redriven. */
  async list(): Promise<DeadLetter[]> {
    await this.ensureTopics();
    const redriven = await this.redriveMarks();
    const out: DeadLetter[] = [];
    await this.log.read(this.dlqTopic, { kind: 'earliest' }, undefined, async (batch) => {
      for (const r of batch.records) out.push(toDeadLetter(r, redriven));
    });
    return out.sort((a, b) => a.partition - b.partition || compareOffsets(a.offset, b.offset));
  }

  /** One dead letter by its position; undefined when there is none there. */
  async get(position: string): Promise<DeadLetter | undefined> {
    return (await this.list()).find((d) => d.position === position);
  }

  /** Redrives the dead letters at `positions`, or every one not yet redriven (`'all'`). */
  async redrive(positions: readonly string[] | 'all'): Promise<RedriveResult> {
    const all = await this.list();
    const byPosition = new Map(all.map((d) => [d.position, d]));
    const wanted = positions === 'all' ? all : positions.flatMap((p) => byPosition.get(p) ?? []);
    const missing = positions === 'all' ? [] : positions.filter((p) => !byPosition.has(p));
    const result: RedriveResult = { redriven: [], skipped: [], missing };
    for (const d of wanted) {
      if (d.redrivenAt !== undefined) {
        result.skipped.push(d);
        continue;
      }
      if (!d.origin || dlqOf(d.origin.topic) !== this.dlqTopic) {
        throw new Error(`${this.dlqTopic} ${d.position} names no origin topic whose dead-letter topic this is (hexfleet-origin-topic "${d.origin?.topic ?? ''}"); it was not written by a hexfleet consumer`);
      }
      // Origin first, mark second: a redrive that dies in between is repeated (a duplicate), never lost.
      await this.log.append(d.origin.topic, [redrivenRecord(d, this.dlqTopic)]);
      const at = Date.now();
      await this.log.append(this.redrivesTopic, [{ key: d.position, value: Buffer.from(JSON.stringify({ origin: d.origin, redrivenAt: at })), timestamp: at }]);
      result.redriven.push({ ...d, redrivenAt: at });
    }
    return result;
  }

  private async ensureTopics(): Promise<void> {
    await this.log.ensureTopics([
      { name: this.dlqTopic, partitions: this.partitions },
      { name: this.redrivesTopic, partitions: 1 },
    ]);
  }

  /** position → when it was redriven (the first time). */
  private async redriveMarks(): Promise<Map<string, number>> {
    const marks = new Map<string, number>();
    await this.log.read(this.redrivesTopic, { kind: 'earliest' }, undefined, async (batch) => {
      for (const r of batch.records) if (!marks.has(r.key)) marks.set(r.key, r.timestamp);
    });
    return marks;
  }
}

const DEAD_LETTER_HEADERS: readonly string[] = [HEADERS.error, HEADERS.attempts, HEADERS.originTopic, HEADERS.originPartition, HEADERS.originOffset];

function redrivenRecord(d: DeadLetter, dlqTopic: string): LogRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers)) if (!DEAD_LETTER_HEADERS.includes(k)) headers[k] = v;
  headers[REDRIVE_HEADERS.redrivenFrom] = `${dlqTopic}/${d.position}`;
  return { key: d.key, value: d.value, headers };
}

function toDeadLetter(r: LoggedRecord, redriven: Map<string, number>): DeadLetter {
  const position = `${r.partition}:${r.offset}`;
  const h = r.headers;
  const attempts = h[HEADERS.attempts] === undefined ? undefined : Number(h[HEADERS.attempts]);
  const originTopic = h[HEADERS.originTopic];
  return {
    position,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    value: r.value,
    headers: h,
    error: h[HEADERS.error] ?? '',
    attempts: Number.isFinite(attempts) ? attempts : undefined,
    origin: originTopic === undefined ? undefined : { topic: originTopic, partition: Number(h[HEADERS.originPartition] ?? NaN), offset: h[HEADERS.originOffset] ?? '' },
    redrivenAt: redriven.get(position),
  };
}

function compareOffsets(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
