/**
 * The messages between bench:nearby-http's orchestrator
 * (bench/scenarios/nearby-http-rounds.ts) and its load generator
 * (bench/workers/nearby-http-loadgen.ts):
 *
 *   config ─▶ "ready"
 *   run    ─▶ warm-up window ─▶ "measuring" ─▶ measured window ─▶ "measured" ─▶ "result"
 *   exit   ─▶ exit
 */
import type { Area } from '../lib/driver-sim.js';
import type { HistogramPairs } from '../lib/histogram.js';

/** What one side's queries go to, and how they are asked. */
export type LoadTarget =
  /**
   * `GET /v1/drivers/nearby?lat=&lng=&radius=&limit=` with a bearer token, HTTP/1.1 keep-alive;
   * connection i goes to `ports[i % ports.length]` (several gateways share the connections evenly).
   */
  | { kind: 'http'; ports: readonly number[]; token: string }
  /** Tile38 over RESP: `NEARBY <key> LIMIT <limit> POINT <lat> <lng> <radius>`. */
  | { kind: 'tile38'; port: number; key: string }
  /** Redis: `GEOSEARCH <key> FROMLONLAT <lng> <lat> BYRADIUS <radius> m ASC COUNT <limit> WITHCOORD WITHDIST`. */
  | { kind: 'geosearch'; port: number; key: string };

export interface LoadConfig {
  type: 'config';
  /** Query points are drawn uniformly from this area. */
  area: Area;
  radiusM: number;
  limit: number;
}

export interface LoadRun {
  type: 'run';
  target: LoadTarget;
  /** Connections, each with one query in flight (closed loop). */
  connections: number;
  warmupS: number;
  durationS: number;
  /** Seeds the measured window's query points: the same seed gives every side the same sequence. */
  seed: number;
  /** RESP sides: the load generator's own framing client (`raw`), or ioredis `call`. */
  respClient: RespClientKind;
}

export type RespClientKind = 'raw' | 'ioredis';

export interface LoadResult {
  type: 'result';
  /** Answered queries (any status) over `seconds`, from the window's start to its last answer. */
  queries: number;
  seconds: number;
  /** Answers that were a success (HTTP 200, a RESP array). */
  ok: number;
  /** Drivers in the successful answers. */
  returned: number;
  latency: { pairs: HistogramPairs; maxUs: number; sumUs: number };
  /** Failures by kind (`HTTP 503`, `socket: ECONNRESET`, `RESP: ERR …`). */
  errors: Record<string, number>;
  /** The load generator's own CPU over the measured window (process.cpuUsage), seconds. */
  cpuS: number;
}
