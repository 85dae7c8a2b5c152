import { HEADERS } from '../eventlog/topics.js';
import { parseJsonRecord } from '../eventlog/json-record.js';
import type { LogRecord } from '../eventlog/event-log.js';
import type { OrderDoc } from './order.js';

/** Version 1: the JSON of an OrderEvent. */
export const ORDERS_SCHEMA = 'orders/1';

/**
 * One committed order transition, as the outbox records it in the same
 * atomic step as the commit and the relay publishes it to `<prefix>.orders`
 * (key orderId). `(orderId, version)` identifies it: a consumer that sees
 * the same pair twice has seen the same event twice (at-least-once delivery).
 */
export interface OrderEvent {
  /** `<orderId>:<version>`: the receiver's deduplication key. */
  id: string;
  orderId: string;
  /** The order's version after the transition (1 for the first commit). */
  version: number;
  /** What happened: `order.created`, `order.search_resumed`, `assignment.offered`, `assignment.accepted`, … */
  type: string;
  /** Who caused it: `service` (the match API), `driver:<id>` (an offer reply), `deadline`, `reconciler`, `operator`. */
  actor: string;
  reason?: string;
  /** Commit time, ms since the epoch. */
  at: number;
  /** The whole order after the transition: replay rebuilds the order store from it. */
  doc: OrderDoc;
}

export function orderEventId(orderId: string, version: number): string {
  return `${orderId}:${version}`;
}

export function orderEventRecord(event: OrderEvent): LogRecord {
  return { key: event.orderId, value: Buffer.from(JSON.stringify(event)), headers: { [HEADERS.schema]: ORDERS_SCHEMA }, timestamp: event.at };
}

/** The event of an orders record. Throws (with the reason) for a record that is not one: a consumer dead-letters it. */
export function decodeOrderEvent(value: Buffer, headers: Record<string, string>): OrderEvent {
  const e = parseJsonRecord<OrderEvent>(value, headers, ORDERS_SCHEMA, 'orders');
  if (typeof e?.orderId !== 'string' || typeof e.version !== 'number' || typeof e.type !== 'string' || typeof e.doc !== 'object' || e.doc === null) {
    throw new Error('not an order event: needs orderId, version, type and doc');
  }
  return e as OrderEvent;
}
