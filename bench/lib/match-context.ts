import type { Config } from '../../src/config/config-schema.js';
import type { DriverStore } from '../../src/geo/driver-store.js';
import type { RedisServer } from '../../kit/redis-server.js';
import type { Progress } from './clock.js';
import type { RunOptions } from './options.js';
import type { ParkedFleet } from './parked-fleet.js';

/** Other processes above this share of one core during a window make it noisy (see noisyRetries). */
export const NOISY_OTHERS_PCT = 25;

/** Every parameter of a bench:match run; the report prints them next to the figures. */
export interface MatchOptions extends RunOptions {
  /** Drivers parked in the city box (100,000; 10,000 in a quick run). */
  drivers: number;
  /**
   * Added to the first match run's warm-up: the gateway's ring planner caches
   * ring geometry per origin cell (~8,500 cells in the box), and a gateway
   * that has served a city for a while has them all.
   */
  prewarmS: number;
  /**
   * A window in which processes outside the benchmark used more than
   * NOISY_OTHERS_PCT of one core is measured again, up to this many times;
   * the report keeps the quietest attempt and says so.
   */
  noisyRetries: number;
  /** Offered matches/s of the fixed-rate runs. */
  rate: number;
  /** Connections of the fixed-rate runs (each carries rate ÷ connections matches/s). */
  rateConnections: number;
  /** Connections of the closed-loop max-throughput run. */
  maxConnections: number;
  /** Queries in flight from one process in the nearby() vs GEOSEARCH comparison. */
  nearbyConcurrency: number;
  /** Seconds per shape and implementation in that comparison (split over alternating rounds). */
  nearbyS: number;
  /** Queries whose results are compared id by id. */
  agreementSample: number;
  /** Another checkout (built) whose gateway the match API runs measure first, for a before/after in one run (--before). */
  beforeDir?: string;
}

/** What every bench:match scenario gets from its suite (bench/suites/match.ts). */
export interface MatchContext {
  options: MatchOptions;
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /** The gateway's environment: the benchmark's settings, then the caller's HEXFLEET_* overrides. */
  gatewayEnv: Record<string, string>;
  /** The configuration that environment resolves to (validated by the gateway's own loader). */
  config: Config;
  /** The fleet, already loaded into `store` (under the gateway's prefix). */
  fleet: ParkedFleet;
  /** The benchmark's own connection to the geo store the gateway uses. */
  store: DriverStore;
  /** The versioned prefix of every Redis key the gateway writes (`<HEXFLEET_REDIS_PREFIX>:v1:`), for inspecting them. */
  keyPrefix: string;
  /** Markdown a scenario adds after the report's notes (the solver's own table). */
  appendix: string[];
}
