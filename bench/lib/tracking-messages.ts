import type { HistogramData } from './messages.js';

/**
 * IPC between bench/scenarios/tracking.ts and its subscriber workers
 * (tracking-subscriber-worker.ts). Times are wall-clock ms (clock.ts), the
 * same instants in every process; the drivers are bench:ingest's own load
 * generator (loadgen-worker.ts, open loop, one ping per frame).
 */

export interface SubscriberConfig {
  type: 'config';
  /** Gateway B's /v1/track endpoint. */
  url: string;
  jwtSecret: string;
  /** This worker's subscribers: global indexes first, first + step, …, `count` of them. */
  first: number;
  step: number;
  count: number;
  /** Subscriber g watches order orderIds[g mod orderIds.length]. */
  orderIds: string[];
  connectConcurrency: number;
}

export interface SubscriberConnected {
  type: 'connected';
  connected: number;
  failed: number;
  firstError: string | undefined;
}

/** Reply to `subscribe`: how many got their first status frame. */
export interface SubscriberSubscribed {
  type: 'subscribed';
  subscribed: number;
  /** Subscribe answered with an error frame, or no status within the timeout. */
  failed: number;
  firstError: string | undefined;
  /** Subscribe sent → first status received, ms. */
  subscribeLatency: HistogramData;
}

/** Count position frames whose ping was sent (ts) in [measureFrom, measureTo); report after measureTo + drain. */
export interface SubscriberGo {
  type: 'go';
  measureFrom: number;
  measureTo: number;
}

export interface SubscriberResult {
  type: 'result';
  /** Position frames received in the window (by receive time). */
  windowPositions: number;
  /** Position frames received at any time after `go`. */
  positions: number;
  statuses: number;
  /** Status frames by state, after `go`. */
  statusStates: Record<string, number>;
  /** A position whose ts is older than one this subscriber already got for its order (should be 0). */
  outOfOrder: number;
  /** The same ts twice for one subscriber (should be 0). */
  duplicates: number;
  /** Error frames by code, unexpected closes by close code. */
  errors: Record<string, number>;
  unexpectedCloses: number;
  /** Subscribers still open at the end. */
  open: number;
  /** Ping sent (ts) → position received, for pings sent in the window. */
  latency: HistogramData;
}
