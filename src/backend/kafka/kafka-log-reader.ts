import { randomUUID } from 'node:crypto';
import type { Admin, EachBatchPayload, Kafka } from 'kafkajs';
import type { LogBatch, PartitionOffsets, ReadFrom } from '../../eventlog/event-log.js';
import { HexfleetError } from '../../protocol/error-codes.js';
import { asLogUnavailable, kafkaCall } from './kafka-call.js';
import { consumerTiming, type KafkaEventLogOptions } from './kafka-options.js';
import { toLoggedRecord } from './kafka-records.js';
import { isSelfHealing } from './kafkajs-logger.js';

/** Per partition: the next offset to hand out and the offset to stop before. */
interface Range {
  next: bigint;
  stop: bigint;
}

/**
 * KafkaEventLog.read(): the range of every partition is fixed before the
 * first record is read — from `from` up to the end offset as it is now, or,
 * with `toTime`, up to the first record stamped after it (Kafka's
 * offset-for-time lookup) if that comes sooner — so a read always ends,
 * however fast the topic grows.
 *
 * kafkajs has no consumer without a group, so the records are fetched by a
 * member of a group of its own (`<clientId>.read.<uuid>`) that commits
 * nothing and is deleted afterwards. Its position is set by seek() each
 * time it joins; as a seek only takes effect at the next fetch, records
 * before a partition's next offset are skipped here, so nothing is handed
 * out twice or early.
 */
export async function readTopic(
  kafka: Kafka,
  admin: Admin,
  o: KafkaEventLogOptions,
  topic: string,
  from: ReadFrom,
  toTime: number | undefined,
  handler: (batch: LogBatch) => Promise<void>,
  signal: AbortSignal,
): Promise<PartitionOffsets> {
  const ranges = await kafkaCall(`read ${topic}: offsets`, o.timeoutMs, rangesOf(admin, topic, from, toTime));
  const lastRead: PartitionOffsets = {};
  const open = new Set([...ranges].filter(([, r]) => r.next < r.stop).map(([p]) => p));
  if (open.size === 0) return lastRead;
  if (signal.aborted) throw new HexfleetError('log_unavailable', `read ${topic}: the Kafka event log was closed`);

  const groupId = `${o.clientId}.read.${randomUUID()}`;
  const timing = consumerTiming(o);
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: timing.sessionTimeoutMs,
    rebalanceTimeout: timing.rebalanceTimeoutMs,
    heartbeatInterval: timing.heartbeatIntervalMs,
    maxWaitTimeInMs: timing.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    // A read is the caller's to redo (from what its handler saw) when the log fails it; only what
    // kafkajs recovers from by itself (a coordinator still loading) restarts it.
    retry: { restartOnFailure: async (err) => isSelfHealing(err.message) },
  });
  let finish!: (err?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err === undefined ? resolve() : reject(err))));
  finished.catch(() => {}); // awaited below; rejected early by a crash before the join it is not an unhandled rejection
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) finish(asLogUnavailable(`read ${topic}`, e.payload.error));
  });
  // A (re)joined member fetches from the beginning (no commits): move it to where the read is.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const p of open) consumer.seek({ topic, partition: p, offset: ranges.get(p)!.next.toString() });
    const done = [...ranges.keys()].filter((p) => !open.has(p));
    if (done.length > 0) consumer.pause([{ topic, partitions: done }]);
  });
  const onAbort = (): void => finish(new HexfleetError('log_unavailable', `read ${topic}: the Kafka event log was closed`));
  signal.addEventListener('abort', onAbort);

  const eachBatch = async ({ batch }: EachBatchPayload): Promise<void> => {
    const range = ranges.get(batch.partition);
    if (!range || !open.has(batch.partition)) return;
    const records = batch.messages
      .filter((m) => BigInt(m.offset) >= range.next && BigInt(m.offset) < range.stop)
      .map((m) => toLoggedRecord(topic, batch.partition, m));
    if (records.length > 0) {
      try {
        await handler({ topic, partition: batch.partition, records });
      } catch (err) {
        open.clear(); // no more handler calls once read() has failed
        finish(err);
        return;
      }
      lastRead[batch.partition] = records.at(-1)!.offset;
    }
    // lastOffset() counts records kafkajs filtered out (transaction markers), so a range can end on one.
    const after = BigInt(batch.lastOffset()) + 1n;
    if (after > range.next) range.next = after;
    if (range.next >= range.stop) open.delete(batch.partition);
    if (open.size === 0) finish();
  };

  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch });
    await finished;
    return lastRead;
  } catch (err) {
    throw err instanceof Error && err.name.startsWith('KafkaJS') ? asLogUnavailable(`read ${topic}`, err) : err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {}); // empty and without offsets: nothing is lost if this fails
  }
}

/** Where each partition's read starts and stops, from the admin API. */
async function rangesOf(admin: Admin, topic: string, from: ReadFrom, toTime: number | undefined): Promise<Map<number, Range>> {
  const ends = await admin.fetchTopicOffsets(topic);
  const ranges = new Map<number, Range>();
  for (const e of ends) ranges.set(e.partition, { next: BigInt(e.low), stop: BigInt(e.high) });
  if (toTime !== undefined) {
    // The first offset stamped at toTime + 1 or later (the end when there is none).
    for (const t of await admin.fetchTopicOffsetsByTimestamp(topic, toTime + 1)) {
      const r = ranges.get(t.partition);
      if (r && BigInt(t.offset) < r.stop) r.stop = BigInt(t.offset);
    }
  }
  if (from.kind === 'time') {
    for (const t of await admin.fetchTopicOffsetsByTimestamp(topic, from.at)) {
      const r = ranges.get(t.partition);
      if (r) r.next = BigInt(t.offset);
    }
  } else if (from.kind === 'offsets') {
    for (const [p, r] of ranges) {
      const given = from.offsets[p];
      if (given !== undefined && BigInt(given) > r.next) r.next = BigInt(given);
    }
  }
  return ranges;
}
