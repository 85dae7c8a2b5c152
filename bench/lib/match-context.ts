import type { Config } from '../../src/config/config-schema.js';
import type { DriverStore } from '../../src/geo/driver-store.js';
import type { BenchRedis } from './bench-redis.js';
import type { Progress } from './clock.js';
import type { MatchBenchOptions } from './match-options.js';
import type { ParkedFleet } from './parked-fleet.js';

/** What every bench:match scenario gets from the orchestrator (bench/match.ts). */
export interface MatchContext {
  options: MatchBenchOptions;
  redis: BenchRedis;
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
}
