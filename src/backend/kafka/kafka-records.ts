import type { Batch, IHeaders, KafkaMessage } from 'kafkajs';
import type { LogBatch, LoggedRecord } from '../../eventlog/event-log.js';

const EMPTY = Buffer.alloc(0);

/** A fetched kafkajs batch as the contract's LogBatch (every record of it). */
export function toLogBatch(batch: Batch): LogBatch {
  return { topic: batch.topic, partition: batch.partition, records: batch.messages.map((m) => toLoggedRecord(batch.topic, batch.partition, m)) };
}

/**
 * One record as read back. A record without a key or value (written by
 * another client) reads as an empty key or value; a header sent several
 * times reads as its first value.
 */
export function toLoggedRecord(topic: string, partition: number, m: KafkaMessage): LoggedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number(m.timestamp),
    key: m.key ? m.key.toString('utf8') : '',
    value: m.value ?? EMPTY,
    headers: toHeaders(m.headers),
  };
}

function toHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, v] of Object.entries(headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[name] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}
