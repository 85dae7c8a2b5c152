import type { HistogramData } from './messages.js';

/**
 * IPC between bench/scenarios/log-order-events.ts and its webhook receiver
 * (workers/webhook-receiver.ts), the order service's endpoint in a process
 * of its own. Times are wall-clock ms (Date.now, what an event's `at` is).
 */

export interface ReceiverListening {
  type: 'listening';
  url: string;
}

/** How many requests and distinct event ids so far (to see deliveries settle). */
export interface ReceiverCount {
  type: 'count';
  requests: number;
  distinct: number;
}

/** Latency of the first copy of each event whose `at` lies in [from, to); counts over the whole run. */
export interface ReceiverReportRequest {
  type: 'report';
  from: number;
  to: number;
}

export interface ReceiverReport {
  type: 'report';
  requests: number;
  /** Every event id received, once. */
  ids: string[];
  /** 2xx answers beyond the first of their event id. */
  duplicates: number;
  /** Bodies that were not an event (no id or at): counted, not answered 200. */
  malformed: number;
  /** First copies by event type, whole run. */
  byType: Record<string, number>;
  /** receive time − at, first copies of events committed inside the window. */
  latency: HistogramData;
  inWindow: number;
  /** First copies that arrived inside the window, whenever committed: the delivery rate. */
  arrivedInWindow: number;
}
