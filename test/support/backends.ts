import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { SentinelGroup } from '../../kit/redis-sentinel.js';
import type { Config } from '../../src/config/config-schema.js';
import { hostPorts } from '../../src/config/load-config.js';
import type { Backend, BackendKind } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/create-backend.js';
import type { StoreTiming } from '../../src/geo/driver-store.js';
import { RedisServer } from './redis-server.js';

/**
 * Every engine the API-level and conformance suites run on. A new backend
 * joins here and every suite that iterates this list runs on it;
 * `BackendHosts` then learns what to start for it.
 */
export const TEST_BACKENDS: readonly BackendKind[] = ['memory', 'redis', 'sentinel', 'cluster'];

/** Timing of a backend that a test only reads through: nothing goes stale, offline or expires while it runs. */
export const TEST_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };

/** A key prefix no other test uses (BullMQ / Centrifuge habit: one namespace per test). */
export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/** Where an engine on Redis keeps its data: the variables (and config keys) that point it there, and a way in for the test. */
export interface BackendTarget {
  /** The environment of a gateway on this target (without the key prefix). */
  env: Record<string, string>;
  /** The same as configuration keys, for createBackend. */
  config: Partial<Config>;
  /** A connection of the test's own to the data (commands reach the primary); the caller disconnects it. */
  admin(): Redis | Cluster;
}

/** The target of one standalone Redis. */
export function redisTarget(url: string): BackendTarget {
  return {
    env: { HEXFLEET_STORE: 'redis', REDIS_URL: url },
    config: { store: 'redis', redisUrl: url },
    admin: () => quiet(new Redis(url, { maxRetriesPerRequest: 1 })),
  };
}

/** The target of a Sentinel group (kit/redis-sentinel.ts). */
export function sentinelTarget(group: SentinelGroup): BackendTarget {
  return {
    env: { HEXFLEET_STORE: 'sentinel', HEXFLEET_REDIS_SENTINELS: group.sentinels, HEXFLEET_REDIS_MASTER_NAME: group.name },
    config: { store: 'sentinel', redisSentinels: group.sentinels, redisMasterName: group.name },
    admin: () => quiet(new Redis({ sentinels: hostPorts(group.sentinels), name: group.name, maxRetriesPerRequest: 1 })),
  };
}

/**
 * Shard areas of the tests' clusters: H3 resolution 6 (~36 km²) rather than
 * the default 3, so that a test city spreads over many areas and shards and
 * every suite crosses shard boundaries.
 */
export const TEST_AREA_RESOLUTION = 6;

/** The target of a Redis Cluster (kit/redis-cluster.ts). */
export function clusterTarget(cluster: RedisCluster): BackendTarget {
  return {
    env: { HEXFLEET_STORE: 'cluster', HEXFLEET_REDIS_CLUSTER: cluster.seeds, HEXFLEET_REDIS_AREA_RESOLUTION: String(TEST_AREA_RESOLUTION) },
    config: { store: 'cluster', redisCluster: cluster.seeds, redisAreaResolution: TEST_AREA_RESOLUTION },
    admin: () => cluster.client(),
  };
}

function quiet<T extends Redis>(r: T): T {
  r.on('error', () => {}); // reported by the command that fails
  return r;
}

/**
 * What one test file needs running to open backends of each engine, started
 * on first use and shared by the file's cases (each case takes its own key
 * prefix): nothing for `memory`, one redis-server for `redis`, a Sentinel
 * group (primary, replica, 3 sentinels) for `sentinel`, a 6-node cluster for
 * `cluster`. Create one per file and `stop()` it in `afterAll`.
 */
export class BackendHosts {
  private redis: Promise<RedisServer> | undefined;
  private sentinel: Promise<SentinelGroup> | undefined;
  private cluster: Promise<RedisCluster> | undefined;

  /** Where an engine of `kind` keeps its data; undefined for `memory`. */
  async target(kind: BackendKind): Promise<BackendTarget | undefined> {
    switch (kind) {
      case 'memory':
        return undefined;
      case 'redis':
        this.redis ??= RedisServer.start();
        return redisTarget((await this.redis).url);
      case 'sentinel':
        this.sentinel ??= SentinelGroup.start();
        return sentinelTarget(await this.sentinel);
      case 'cluster':
        this.cluster ??= RedisCluster.start();
        return clusterTarget(await this.cluster);
      default:
        throw new Error(`no test host for backend ${String(kind satisfies never)}`);
    }
  }

  async stop(): Promise<void> {
    const started = [this.redis, this.sentinel, this.cluster];
    this.redis = this.sentinel = this.cluster = undefined;
    await Promise.all(started.map(async (h) => (h ? (await h).stop() : undefined)));
  }
}

export interface TestBackend {
  backend: Backend;
  /** The key prefix given to the backend (Redis only; the engine appends its layout version). */
  prefix: string;
  /** A connection of the test's own to the backend's Redis, for looking at and tampering with keys (Redis only). */
  admin: Redis | undefined;
  /** The same for any Redis engine (a Cluster client on `cluster`). */
  data: Redis | Cluster | undefined;
  /** Deletes every key under the prefix and closes the backend and the admin connection. */
  cleanup(): Promise<void>;
}

/**
 * A backend as the engine opens it (`createBackend`), under a fresh key
 * prefix (or the one given: two backends on one prefix are two gateways of
 * one deployment), connected and subscribed before it is returned. Commands
 * get a generous timeout: a busy CI machine must never turn a slow reply
 * into a failure. `redisUrl` is short for `target: redisTarget(redisUrl)`.
 */
export async function openTestBackend(
  kind: BackendKind,
  o: { redisUrl?: string; target?: BackendTarget; timing: StoreTiming; h3Resolution?: number; prefix?: string; outbox?: boolean; config?: Partial<Config> },
): Promise<TestBackend> {
  const target = o.target ?? (o.redisUrl ? redisTarget(o.redisUrl) : undefined);
  if (kind !== 'memory' && !target) throw new Error(`the ${kind} backend needs a target (see BackendHosts)`);
  const prefix = o.prefix ?? uniquePrefix();
  const backend = createBackend(
    {
      redisUrl: '',
      ...target?.config,
      store: kind,
      redisPrefix: prefix,
      redisCommandTimeoutMs: 10_000,
      h3Resolution: o.h3Resolution ?? 9,
      ...o.timing,
      ...o.config,
    },
    pino({ level: 'silent' }),
    // Stores opened by tests keep their outbox (what a deployment with an event log runs), unless a test says otherwise.
    { outbox: o.outbox ?? true },
  );
  await backend.waitUntilReady(20_000);
  await backend.subscribed;
  const data = kind === 'memory' ? undefined : target!.admin();
  return {
    backend,
    prefix,
    admin: data instanceof Redis ? data : undefined,
    data,
    async cleanup() {
      if (data) await deleteKeys(data, prefix).catch(() => {});
      await backend.close();
      data?.disconnect();
    },
  };
}

/** Deletes every key under `prefix` (SCAN MATCH + DEL, never KEYS), on every primary of a cluster. */
export async function deleteKeys(redis: Redis | Cluster, prefix: string): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: on a cluster the keys of one SCAN reply hash to many slots.
      for (const key of keys) await node.del(key);
    } while (cursor !== '0');
  }
}

/** Deletes every key under `prefix` on the Redis at `url` (or the target), on a connection of its own. */
export async function deleteKeysAt(at: string | BackendTarget, prefix: string): Promise<void> {
  const redis = typeof at === 'string' ? quiet(new Redis(at, { maxRetriesPerRequest: 1 })) : at.admin();
  try {
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
