import type { Config } from '../config/config-schema.js';
import { selectedStore } from '../config/load-config.js';
import type { DriverStore, StoreTiming } from './driver-store.js';
import { MemoryDriverStore } from '../backend/memory/memory-driver-store.js';
import { RedisDriverStore } from '../backend/redis/redis-driver-store.js';
import { RingPlanner } from './ring-planner.js';

/** The store a configuration selects. An unknown choice cannot get here: the config schema rejects it. */
export function createDriverStore(config: Config): DriverStore {
  const planner = new RingPlanner(config.h3Resolution);
  const timing: StoreTiming = {
    staleMs: config.staleMs,
    offlineMs: config.offlineMs,
    retentionMs: config.retentionMs,
  };
  const kind = selectedStore(config);
  switch (kind) {
    case 'memory':
      return new MemoryDriverStore(planner, timing);
    case 'redis':
      return new RedisDriverStore({
        url: config.redisUrl,
        prefix: config.redisPrefix,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        timing,
        planner,
      });
    default:
      throw new Error(`unknown store ${String(kind satisfies never)}`);
  }
}
