import type { Config } from '../../src/config/config-schema.js';
import type { RedisServer } from '../../kit/redis-server.js';
import type { Progress } from './clock.js';
import type { RunOptions } from './options.js';

/** Every parameter of a bench:ingest run; the report prints them next to the figures. */
export interface IngestOptions extends RunOptions {
  throughput: { drivers: number; batchPings: number; depth: number; loadgens: number; ceilingInflight: number };
  latency: { drivers: number; batchPings: number; periodMs: number; loadgens: number; gateways: number };
  memory: { drivers: number; metroSideKm: number };
}

/** What every bench:ingest scenario gets from its suite (bench/suites/ingest.ts). */
export interface IngestContext {
  options: IngestOptions;
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /** The environment of a gateway process writing under `prefix`. */
  gatewayEnv(prefix: string): Record<string, string>;
  /** The configuration those gateways run with (the ceiling mirrors its batching). */
  gatewayConfig: Config;
}
