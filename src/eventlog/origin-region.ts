import type { ConsumeOptions, EventLog, LogBatch, LogConsumer, LogRecord, PartitionOffsets, ReadFrom, TopicSpec } from './event-log.js';
import { HEADERS } from './topics.js';

/** The region of a gateway without HEXFLEET_REGION (one region; GET /v1/regions names it the same). */
export const DEFAULT_REGION = 'default';

/** HEXFLEET_REGION, or {@link DEFAULT_REGION} when unset. */
export function regionName(configured: string): string {
  return configured === '' ? DEFAULT_REGION : configured;
}

/**
 * The region a record was written in: its `hexfleet-origin-region` header,
 * or, for a record written before the header existed, `logRegion` — the
 * region of the log it was written to (the local region for the local
 * topics, the source region for a mirrored `<source>.<topic>`).
 */
export function originRegionOf(headers: Readonly<Record<string, string>>, logRegion: string): string {
  return headers[HEADERS.originRegion] || logRegion;
}

/**
 * The event log of a gateway in region `region`: every append carries
 * `hexfleet-origin-region: <region>` unless the record already names its
 * origin (a dead letter of a replicated record keeps the region it came
 * from). Everything else is the wrapped log's, unchanged.
 *
 * Why a header and not the value: the position and order codecs stay as
 * they are (a record's schema version does not change), MirrorMaker 2 copies
 * headers as they are, and a replication applier can skip a record of its
 * own region without decoding it.
 */
export class OriginRegionLog implements EventLog {
  constructor(
    private readonly log: EventLog,
    readonly region: string,
  ) {}

  append(topic: string, records: readonly LogRecord[]): Promise<void> {
    return this.log.append(topic, records.map((r) => this.stamped(r)));
  }

  consume(options: ConsumeOptions): Promise<LogConsumer> {
    return this.log.consume(options);
  }

  read(topic: string, from: ReadFrom, toTime: number | undefined, handler: (batch: LogBatch) => Promise<void>): Promise<PartitionOffsets> {
    return this.log.read(topic, from, toTime, handler);
  }

  ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    return this.log.ensureTopics(topics);
  }

  endOffsets(topic: string): Promise<PartitionOffsets> {
    return this.log.endOffsets(topic);
  }

  groupOffsets(group: string, topic: string): Promise<PartitionOffsets> {
    return this.log.groupOffsets(group, topic);
  }

  check(): Promise<void> {
    return this.log.check();
  }

  close(): Promise<void> {
    return this.log.close();
  }

  private stamped(r: LogRecord): LogRecord {
    if (r.headers?.[HEADERS.originRegion]) return r;
    return { ...r, headers: { ...r.headers, [HEADERS.originRegion]: this.region } };
  }
}
