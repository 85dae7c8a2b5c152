import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Backend, BackendKind } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/create-backend.js';
import type { StoreTiming } from '../../src/geo/driver-store.js';
import { deleteKeys } from './redis-gateway.js';

/**
 * Every engine the API-level and conformance suites run on. A new backend
 * (Sentinel, Cluster, …) joins here and every suite that iterates this list
 * runs on it.
 */
export const TEST_BACKENDS: readonly BackendKind[] = ['memory', 'redis'];

/** Timing of a backend that a test only reads through: nothing goes stale, offline or expires while it runs. */
export const TEST_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };

export interface TestBackend {
  backend: Backend;
  /** The key prefix given to the backend (Redis only; the engine appends its layout version). */
  prefix: string;
  /** A connection of the test's own to the backend's Redis, for looking at and tampering with keys (Redis only). */
  admin: Redis | undefined;
  /** Deletes every key under the prefix and closes the backend and the admin connection. */
  cleanup(): Promise<void>;
}

/**
 * A backend as the engine opens it (`createBackend`), under a fresh key
 * prefix, connected before it is returned. Commands get a generous timeout:
 * a busy CI machine must never turn a slow reply into a failure.
 */
export async function openTestBackend(
  kind: BackendKind,
  o: { redisUrl?: string; timing: StoreTiming; h3Resolution?: number; prefix?: string },
): Promise<TestBackend> {
  if (kind !== 'memory' && !o.redisUrl) throw new Error(`the ${kind} backend needs a redisUrl`);
  const prefix = o.prefix ?? `test-${randomUUID().slice(0, 8)}`;
  const backend = createBackend(
    {
      store: kind,
      redisUrl: o.redisUrl ?? '',
      redisPrefix: prefix,
      redisCommandTimeoutMs: 10_000,
      h3Resolution: o.h3Resolution ?? 9,
      ...o.timing,
    },
    pino({ level: 'silent' }),
  );
  await backend.waitUntilReady(20_000);
  const admin = kind === 'memory' ? undefined : new Redis(o.redisUrl!);
  return {
    backend,
    prefix,
    admin,
    async cleanup() {
      if (admin) await deleteKeys(admin, prefix).catch(() => {});
      await backend.close();
      admin?.disconnect();
    },
  };
}
