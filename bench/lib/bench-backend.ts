import { pino } from 'pino';
import type { Registry } from 'prom-client';
import type { Backend } from '../../src/backend/backend.js';
import { type BackendConfig, createBackend } from '../../src/backend/create-backend.js';
import type { StoreTiming } from '../../src/geo/driver-store.js';
import type { RingPlanner } from '../../src/geo/ring-planner.js';

/**
 * Engine settings on top of the default choice (`redisUrl` given: one Redis,
 * else memory): e.g. `{ store: 'cluster', redisCluster, redisAreaResolution }`.
 */
export type BenchEngine = Partial<Pick<BackendConfig, 'store' | 'redisCluster' | 'redisAreaResolution' | 'redisMinReplicasAck' | 'redisReplicaAckTimeoutMs'>>;

/** Default timing: no driver goes offline or expires during a run (stale after 30 s, as the engine's default). */
const BENCH_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 7 * 86_400_000 };

/**
 * A backend as the engine opens it, for benchmarks that drive its parts
 * directly; a Redis one is connected before it is returned. Commands get a
 * generous timeout: a slow call must be measured, not turned into an error.
 * A benchmark that shares its store with gateways passes their timing, so
 * both judge staleness alike. `engine` picks another engine and `registry`
 * receives the engine's own metrics (bench:cluster).
 */
export async function openBenchBackend(
  o: { redisUrl?: string; prefix?: string; h3Resolution: number; planner?: RingPlanner; timing?: StoreTiming; engine?: BenchEngine; registry?: Registry },
): Promise<Backend> {
  const backend = createBackend(
    {
      store: o.redisUrl ? 'redis' : 'memory',
      redisUrl: o.redisUrl ?? '',
      redisPrefix: o.prefix ?? 'bench',
      redisCommandTimeoutMs: 30_000,
      h3Resolution: o.h3Resolution,
      ...(o.timing ?? BENCH_TIMING),
      ...o.engine,
    },
    pino({ level: 'silent' }),
    { ...(o.planner ? { planner: o.planner } : {}), ...(o.registry ? { registry: o.registry } : {}) },
  );
  await backend.waitUntilReady(10_000);
  return backend;
}
