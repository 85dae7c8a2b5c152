import type { Area } from './driver-sim.js';
import type { HistogramData } from './messages.js';

/**
 * The IPC messages between bench/scenarios/match-api.ts and its load generator
 * (match-loadgen.ts).
 */

/** How the load generator spaces its matches. */
export type MatchLoadKind =
  /** autocannon `overallRate`: each connection may send its share of the rate in every 1 s bucket, back to back. */
  | 'rate'
  /** One match per connection every connections ÷ rate seconds, phases staggered: a uniform schedule; latency also from the scheduled time. */
  | 'paced'
  /** Closed loop: every connection sends its next request as soon as the previous one is answered. */
  | 'closed';

export interface MatchLoadConfig {
  type: 'config';
  /** The gateway's root URL, http://127.0.0.1:port. */
  url: string;
  /** A `service` token for the Authorization header. */
  token: string;
  /** Pickups are uniform over this area. */
  area: Area;
  seed: number;
  radiusM: number;
}

export interface MatchRunMessage {
  type: 'run';
  kind: MatchLoadKind;
  connections: number;
  /** Matches/s offered (rate and paced); ignored by closed. */
  matchesPerS: number;
  warmupS: number;
  durationS: number;
}

/** Counts of one request kind by "status code" (e.g. "200", "404 no_driver", "503 overloaded"). */
export type StatusCounts = Record<string, number>;

export interface MatchRunResult {
  type: 'result';
  kind: MatchLoadKind;
  /** The measured autocannon run, seconds (autocannon's own clock; it stops on its 1 s sample tick). */
  durationS: number;
  matchSent: number;
  matchStatus: StatusCounts;
  cancelStatus: StatusCounts;
  /** Send → response of POST /v1/match, every answer of the window. */
  matchLatency: HistogramData;
  /** Scheduled send → response (paced only): what a client on that schedule waits, coordinated omission included. */
  matchCorrected: HistogramData | null;
  /** Actual send − scheduled send (paced only). */
  sendLag: HistogramData | null;
  cancelLatency: HistogramData;
  /** Distinct drivers offered an order in the window. */
  distinctDrivers: number;
  /** autocannon's own figures for the run: every request (match and cancel), 1 ms resolution. */
  autocannon: {
    latency: { p50: number; p90: number; p99: number; p99_9: number; max: number; mean: number };
    requests: number;
    statusCodeStats: Record<string, number>;
    errors: number;
    timeouts: number;
    non2xx: number;
    /** Cycles where the cancel was skipped because the match was not a 200. */
    resets: number;
  };
  /** Matches sent whose answer the run's stop cut off. */
  unansweredAtStop: number;
  /** After the run: orders matched (or maybe matched) but not yet cancelled, cancelled now, by status. */
  drain: StatusCounts;
}
