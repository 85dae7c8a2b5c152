import { pino } from 'pino';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/create-backend.js';
import type { RingPlanner } from '../../src/geo/ring-planner.js';

/** Drivers never go stale or offline during a run, and nothing expires. */
const BENCH_TIMING = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 7 * 86_400_000 };

/**
 * A backend as the engine opens it, for benchmarks that drive its parts
 * directly; a Redis one is connected before it is returned. Commands get a
 * generous timeout: a slow call must be measured, not turned into an error.
 */
export async function openBenchBackend(
  o: { redisUrl?: string; prefix?: string; h3Resolution: number; planner?: RingPlanner },
): Promise<Backend> {
  const backend = createBackend(
    {
      store: o.redisUrl ? 'redis' : 'memory',
      redisUrl: o.redisUrl ?? '',
      redisPrefix: o.prefix ?? 'bench',
      redisCommandTimeoutMs: 30_000,
      h3Resolution: o.h3Resolution,
      ...BENCH_TIMING,
    },
    pino({ level: 'silent' }),
    o.planner ? { planner: o.planner } : {},
  );
  await backend.waitUntilReady(10_000);
  return backend;
}
