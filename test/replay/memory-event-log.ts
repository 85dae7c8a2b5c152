import type { EventLog, LogBatch, LoggedRecord, LogRecord, PartitionOffsets, ReadFrom, TopicSpec } from '../../src/eventlog/event-log.js';

/**
 * An EventLog in memory with just enough of the contract for replay's unit
 * tests: keyed partitions in append order, and `read` from the earliest, a
 * time or offsets up to a time, in batches of `batchSize` per partition, the
 * partitions interleaved batch by batch as a Kafka fetch returns them.
 */
export class MemoryEventLog implements EventLog {
  private readonly topics = new Map<string, LoggedRecord[][]>();

  constructor(
    private readonly partitions = 3,
    private readonly batchSize = 50,
  ) {}

  async append(topic: string, records: readonly LogRecord[]): Promise<void> {
    this.appendNow(topic, records);
  }

  /** Appends synchronously; `timestamp` defaults to now. */
  appendNow(topic: string, records: readonly LogRecord[]): void {
    const parts = this.partitionsOf(topic);
    for (const r of records) {
      const p = partitionOf(r.key, this.partitions);
      const list = parts[p]!;
      list.push({ topic, partition: p, offset: String(list.length), key: r.key, value: r.value, headers: r.headers ?? {}, timestamp: r.timestamp ?? Date.now() });
    }
  }

  async read(topic: string, from: ReadFrom, toTime: number | undefined, handler: (batch: LogBatch) => Promise<void>): Promise<PartitionOffsets> {
    const parts = this.partitionsOf(topic);
    const ends = parts.map((l) => l.length);
    const pos = parts.map((list, p) => {
      if (from.kind === 'earliest') return 0;
      if (from.kind === 'offsets') return Number(from.offsets[p] ?? 0);
      const i = list.findIndex((r) => r.timestamp >= from.at);
      return i < 0 ? list.length : i;
    });
    const last: PartitionOffsets = {};
    for (let more = true; more; ) {
      more = false;
      for (let p = 0; p < parts.length; p++) {
        const records: LoggedRecord[] = [];
        while (records.length < this.batchSize && pos[p]! < ends[p]!) {
          const r = parts[p]![pos[p]!]!;
          if (toTime !== undefined && r.timestamp > toTime) {
            pos[p] = ends[p]!;
            break;
          }
          records.push(r);
          pos[p]!++;
        }
        if (records.length === 0) continue;
        more = true;
        await handler({ topic, partition: p, records });
        last[p] = records[records.length - 1]!.offset;
      }
    }
    return last;
  }

  consume(): never {
    throw new Error('not in the memory log');
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    for (const t of topics) this.partitionsOf(t.name);
  }

  async endOffsets(topic: string): Promise<PartitionOffsets> {
    return Object.fromEntries(this.partitionsOf(topic).map((l, p) => [p, String(l.length)]));
  }

  async groupOffsets(): Promise<PartitionOffsets> {
    return {};
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {}

  private partitionsOf(topic: string): LoggedRecord[][] {
    let parts = this.topics.get(topic);
    if (!parts) this.topics.set(topic, (parts = Array.from({ length: this.partitions }, () => [])));
    return parts;
  }
}

function partitionOf(key: string, n: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(h) % n;
}
