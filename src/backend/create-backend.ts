import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { selectedStore } from '../config/load-config.js';
import { RingPlanner } from '../geo/ring-planner.js';
import type { Backend } from './backend.js';
import { MemoryBackend } from './memory/memory-backend.js';
import { RedisBackend } from './redis/redis-backend.js';

/** What choosing and opening a backend reads from the configuration. */
export type BackendConfig = Pick<
  Config,
  'store' | 'redisUrl' | 'redisPrefix' | 'redisCommandTimeoutMs' | 'h3Resolution' | 'staleMs' | 'offlineMs' | 'retentionMs'
>;

/**
 * The backend a configuration selects, opened (connections start in the
 * background; `waitUntilReady` waits for them). The only place that names an
 * engine: an unknown choice cannot get here, the config schema rejects it.
 * `planner` overrides the ring planner (benchmarks compare strategies).
 */
export function createBackend(config: BackendConfig, log: Logger, planner = new RingPlanner(config.h3Resolution)): Backend {
  const timing = { staleMs: config.staleMs, offlineMs: config.offlineMs, retentionMs: config.retentionMs };
  const kind = selectedStore(config);
  switch (kind) {
    case 'memory':
      return new MemoryBackend({ timing, planner });
    case 'redis':
      return new RedisBackend({ url: config.redisUrl, prefix: config.redisPrefix, commandTimeoutMs: config.redisCommandTimeoutMs, timing, planner }, log);
    default:
      throw new Error(`unknown backend ${String(kind satisfies never)}`);
  }
}
