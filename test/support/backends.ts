import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Backend, BackendKind } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/create-backend.js';
import type { StoreTiming } from '../../src/geo/driver-store.js';
import { RedisServer } from './redis-server.js';

/**
 * Every engine the API-level and conformance suites run on. A new backend
 * (Sentinel, Cluster, …) joins here and every suite that iterates this list
 * runs on it; `BackendHosts` then learns what to start for it.
 */
export const TEST_BACKENDS: readonly BackendKind[] = ['memory', 'redis'];

/** Timing of a backend that a test only reads through: nothing goes stale, offline or expires while it runs. */
export const TEST_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };

/** A key prefix no other test uses (BullMQ / Centrifuge habit: one namespace per test). */
export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/**
 * What one test file needs running to open backends of each engine, started
 * on first use and shared by the file's cases (each case takes its own key
 * prefix): nothing for `memory`, one redis-server for `redis`. Create one
 * per file and `stop()` it in `afterAll`.
 */
export class BackendHosts {
  private redis: Promise<RedisServer> | undefined;

  /** The Redis URL an engine connects to; undefined for engines that need none. */
  async redisUrl(kind: BackendKind): Promise<string | undefined> {
    switch (kind) {
      case 'memory':
        return undefined;
      case 'redis':
        this.redis ??= RedisServer.start();
        return (await this.redis).url;
      default:
        throw new Error(`no test host for backend ${String(kind satisfies never)}`);
    }
  }

  async stop(): Promise<void> {
    const redis = this.redis;
    this.redis = undefined;
    if (redis) await (await redis).stop();
  }
}

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
 * prefix (or the one given: two backends on one prefix are two gateways of
 * one deployment), connected and subscribed before it is returned. Commands
 * get a generous timeout: a busy CI machine must never turn a slow reply
 * into a failure.
 */
export async function openTestBackend(
  kind: BackendKind,
  o: { redisUrl?: string; timing: StoreTiming; h3Resolution?: number; prefix?: string; outbox?: boolean },
): Promise<TestBackend> {
  if (kind !== 'memory' && !o.redisUrl) throw new Error(`the ${kind} backend needs a redisUrl`);
  const prefix = o.prefix ?? uniquePrefix();
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
    // Stores opened by tests keep their outbox (what a deployment with an event log runs), unless a test says otherwise.
    { outbox: o.outbox ?? true },
  );
  await backend.waitUntilReady(20_000);
  await backend.subscribed;
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

/** Deletes every key under `prefix` (SCAN MATCH + DEL, never KEYS). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Deletes every key under `prefix` on the Redis at `url`, on a connection of its own. */
export async function deleteKeysAt(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // A Redis a test already stopped has no keys left to delete.
  try {
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
