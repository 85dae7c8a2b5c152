import type { LoggedRecord } from '../eventlog/event-log.js';

/** One record replay could not decode: where it is, and why. */
export interface UndecodableRecord {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
}

/**
 * Records that were not what their topic holds. Each is counted and the
 * first `keep` are listed with their offsets (an operator inspects them with
 * any Kafka tool); none stops the replay, since one bad record must not leave
 * every driver after it unrestored.
 */
export class UndecodableRecords {
  count = 0;
  readonly first: UndecodableRecord[] = [];

  /** A hundred offsets say where to look; a million would drown the summary. */
  constructor(private readonly keep = 100) {}

  add(record: LoggedRecord, err: unknown): void {
    this.count++;
    if (this.first.length < this.keep) {
      this.first.push({ topic: record.topic, partition: record.partition, offset: record.offset, reason: err instanceof Error ? err.message : String(err) });
    }
  }
}
