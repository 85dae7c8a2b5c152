/**
 * The durable event log hexfleet writes every acked ping and every order
 * transition to (Kafka in production; see src/backend/kafka/). Replay,
 * point-in-time recovery, the order service's notifications and
 * cross-region replication (src/replication/) read it.
 *
 * Topics are named by the caller (see `topicNames`); records carry a key,
 * and records with the same key land in one partition, in append order.
 */
export interface EventLog {
  /**
   * Appends records to one topic. Resolves once the log holds every one of
   * them durably (Kafka: acks from all in-sync replicas, idempotent
   * producer, so a producer-side retry never duplicates). Rejects with
   * `log_unavailable` when that could not be confirmed within the configured
   * timeout: then any subset of the records may be in the log, and a caller
   * that appends them again may duplicate them — consumers deduplicate
   * (positions by (driverId, seq), orders by (orderId, version)).
   * Order: records of one key are appended in array order, and two appends
   * of the same key are ordered when the second starts after the first
   * resolved.
   */
  append(topic: string, records: readonly LogRecord[]): Promise<void>;

  /**
   * Joins consumer group `group` on `topics` and calls `handler` with batches
   * of records, in offset order per partition, one batch at a time per
   * partition. An offset is committed only after the handler resolved for
   * its batch, so a record is processed at least once: a consumer that dies
   * mid-batch leaves the batch to the next member of the group. A handler
   * that rejects gets the same batch again (after `retryDelayMs`); a handler
   * that must give up on a record sends it to a dead-letter topic itself and
   * resolves. Resolves once the consumer has joined the group.
   */
  consume(options: ConsumeOptions): Promise<LogConsumer>;

  /**
   * Reads `topic` outside any group, from `from` up to and including the
   * records with a timestamp ≤ `toTime` (or to the end of each partition as
   * it was when the read started), calling `handler` with batches in offset
   * order per partition. For replay and inspection (DLQ list); commits
   * nothing. Resolves with the last offset read per partition.
   */
  read(topic: string, from: ReadFrom, toTime: number | undefined, handler: (batch: LogBatch) => Promise<void>): Promise<PartitionOffsets>;

  /** Creates the topics that are missing (existing ones are left as they are). */
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;

  /** Latest offsets per partition of a topic (the end of the log), and a group's committed offsets, for lag. */
  endOffsets(topic: string): Promise<PartitionOffsets>;
  groupOffsets(group: string, topic: string): Promise<PartitionOffsets>;

  /** Resolves when the log answers; rejects with `log_unavailable` otherwise. */
  check(): Promise<void>;

  /** Stops every consumer of this log and disconnects. Idempotent. */
  close(): Promise<void>;
}

/** One record to append. */
export interface LogRecord {
  /** Partitioning key: records of one key stay in order. */
  key: string;
  value: Buffer;
  /** Small metadata (schema version, origin, error details for dead letters). */
  headers?: Record<string, string>;
  /** ms since the epoch; default: when it is appended. */
  timestamp?: number;
}

/** A record as read back, with where it sits in the log. */
export interface LoggedRecord extends Required<Omit<LogRecord, 'timestamp'>> {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: kept as decimal strings. */
  offset: string;
  timestamp: number;
}

export interface LogBatch {
  topic: string;
  partition: number;
  records: LoggedRecord[];
}

export interface ConsumeOptions {
  group: string;
  topics: readonly string[];
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  handler: (batch: LogBatch) => Promise<void>;
  /** Pause before a rejected batch is handed out again. */
  retryDelayMs?: number;
}

export interface LogConsumer {
  /** Leaves the group after the batch in hand is handled (its offset committed). */
  stop(): Promise<void>;
}

/** `partition → offset` (decimal strings). */
export type PartitionOffsets = Record<number, string>;

/** Where a read starts: the beginning, a time (the first record at or after it), or explicit offsets (the next offset to read per partition). */
export type ReadFrom = { kind: 'earliest' } | { kind: 'time'; at: number } | { kind: 'offsets'; offsets: PartitionOffsets };

export interface TopicSpec {
  name: string;
  partitions: number;
}
