import type { RedisServer } from '../../kit/redis-server.js';
import type { Config } from '../../src/config/config-schema.js';
import type { Progress } from '../lib/clock.js';
import type { RunOptions } from '../lib/options.js';
import type { ParkedFleet } from '../lib/parked-fleet.js';
import type { LoadTarget, RespClientKind } from '../workers/nearby-http-messages.js';

/** The parameters of a bench:nearby-http run (bench/suites/nearby-http.ts). */
export interface NearbyHttpOptions extends RunOptions {
  /** Available drivers parked over the box. */
  drivers: number;
  /** Interleaved rounds: each side gets one warm-up + measured window per round, sides in turn. */
  rounds: number;
  /** Keep-alive connections of the load generator, one query in flight on each. */
  connections: number;
  radiusM: number;
  limit: number;
  /** Query points whose answers are compared id by id across the sides. */
  agreementSample: number;
  /** --tile38=PATH, else TILE38_BIN. */
  tile38: string | undefined;
  /** How the load generator speaks RESP to Tile38 and Redis (--resp-client). */
  respClient: RespClientKind;
}

/** What every part of the run shares. */
export interface NearbyHttpContext {
  options: NearbyHttpOptions;
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /** A service token for GET /v1/drivers/nearby. */
  token: string;
  /** The gateways' environment before a side's own setting (benchmark settings, then the caller's HEXFLEET_*). */
  gatewayEnv: Record<string, string>;
  config: Config;
  /** The fleet, already in Redis under the gateways' prefix, in the GEO key and (when measured) in Tile38. */
  fleet: ParkedFleet;
  /** Redis GEO key of the GEOSEARCH side. */
  geoKey: string;
  /** Tile38 collection of the Tile38 side. */
  tile38Key: string;
}

/** One driver of an answer, for the agreement check. */
export interface Hit {
  id: string;
  distanceM: number;
}

/** A side that runs: where its load goes, whose CPU is its cost, how to ask it one query. */
export interface LiveSide {
  key: string;
  label: string;
  family: 'hexfleet' | 'tile38' | 'geosearch';
  target: LoadTarget;
  /** The server processes of this side, by name → pid (their CPU is what the side costs). */
  servers: Map<string, number>;
  /** One query answered as (id, distance) nearest first, for the agreement check. */
  ask(lat: number, lng: number): Promise<Hit[]>;
  /** How this side was set up, for the report. */
  setup: string;
  /** A side's own figures besides the common ones (e.g. the read index metrics of a gateway). */
  extra?: () => Promise<string | undefined>;
}

/** A side of the run: live, or why it was not measured. */
export type Side = LiveSide | { key: string; label: string; family: LiveSide['family']; unavailable: string };

export function isLive(s: Side): s is LiveSide {
  return !('unavailable' in s);
}
