import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/config-schema.js';
import { ConfigError, hostPorts, selectedStore } from '../config/load-config.js';
import { redisTlsOptions } from '../backend/redis-tls-options.js';
import type { BackupEngine } from './backup-manifest.js';

/**
 * The store layout version every engine puts in its key prefix
 * (`<HEXFLEET_REDIS_PREFIX>:v1:`): a backup records it, and a restore
 * refuses a backup of another layout.
 */
export const STORE_LAYOUT = 'v1';

/**
 * Where a backup reads and a restore writes: a connection to the data
 * (commands reach the primary) and the prefix every hexfleet key starts
 * with. On a `Redis` the whole prefix is one shard; on a `Cluster` each
 * primary is one (`cluster.nodes('master')`), scanned on its own, and a
 * restore writes each key through the cluster client, which sends it to
 * whichever primary serves its slot now (a fresh cluster may split its
 * slots differently).
 */
export interface BackupTarget {
  client: Redis | Cluster;
  /** e.g. `hf:v1:`; keys carrying hash tags (`hf:v1:{…}…`) start with it too. */
  keyPrefix: string;
}

/** A target this module connected itself, from the configuration. */
export interface OpenedTarget extends BackupTarget {
  engine: BackupEngine;
  /** Disconnects. */
  close(): void;
}

/** What opening a target reads from the configuration. */
export type TargetConfig = Pick<
  Config,
  'store' | 'redisUrl' | 'redisSentinels' | 'redisMasterName' | 'redisSentinelPassword' | 'redisPassword' | 'redisCluster' | 'redisPrefix' | 'redisCommandTimeoutMs'
> & Partial<Pick<Config, 'redisTls' | 'redisTlsCaFile' | 'redisTlsCertFile' | 'redisTlsKeyFile'>>;

/**
 * Backup calls move up to a chunk (~1 MiB) of DUMP payloads at once: a
 * busy Redis must slow a backup down, not fail it.
 */
const MIN_COMMAND_TIMEOUT_MS = 30_000;

/** The engine of a configuration, or a `ConfigError` for the memory store, which has nothing to back up. */
export function backupEngineOf(config: TargetConfig): BackupEngine {
  const kind = selectedStore(config);
  if (kind === 'memory') {
    throw new ConfigError(
      'backups need a Redis engine (REDIS_URL, HEXFLEET_REDIS_SENTINELS or HEXFLEET_REDIS_CLUSTER): the in-memory store dies with its process, there is nothing to back up or restore into',
    );
  }
  return kind;
}

/**
 * Connects to the configured engine's data for a backup or a restore: its
 * own connection (not the engine's), with long command timeouts and an
 * offline queue, so a command sent while connecting waits instead of failing.
 */
export function openBackupTarget(config: TargetConfig): OpenedTarget {
  const engine = backupEngineOf(config);
  const keyPrefix = `${config.redisPrefix}:${STORE_LAYOUT}:`;
  const tls = redisTlsOptions({ redisTls: false, redisTlsCaFile: '', redisTlsCertFile: '', redisTlsKeyFile: '', ...config });
  const common: RedisOptions = {
    ...(tls ? { tls } : {}),
    commandTimeout: Math.max(MIN_COMMAND_TIMEOUT_MS, config.redisCommandTimeoutMs),
    connectTimeout: Math.max(1000, config.redisCommandTimeoutMs),
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
  };
  let client: Redis | Cluster;
  if (engine === 'redis') {
    client = new Redis(config.redisUrl, common);
  } else if (engine === 'sentinel') {
    client = new Redis({
      ...common,
      sentinels: hostPorts(config.redisSentinels),
      name: config.redisMasterName,
      ...(config.redisSentinelPassword ? { sentinelPassword: config.redisSentinelPassword } : {}),
      ...(config.redisPassword ? { password: config.redisPassword } : {}),
      ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    });
  } else {
    client = new Cluster(hostPorts(config.redisCluster), {
      // A restore sends thousands of single-key RESTOREs at once: batched per node, as a pipeline would.
      enableAutoPipelining: true,
      redisOptions: { ...common, ...(config.redisPassword ? { password: config.redisPassword } : {}) },
    });
  }
  client.on('error', () => {}); // reported by the command that fails, or by waitForTarget
  return { client, keyPrefix, engine, close: () => client.disconnect() };
}

/** Resolves once the client is connected (a cluster: with its slot map), or rejects naming the cause after `timeoutMs`. */
export async function waitForTarget(target: BackupTarget, timeoutMs: number): Promise<void> {
  const c = target.client;
  if (c.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let last = '';
    const onError = (err: Error): void => void (last = err.message);
    const timer = setTimeout(() => {
      c.off('ready', onReady);
      c.off('error', onError);
      reject(new Error(`Redis not reachable within ${timeoutMs} ms${last ? `: ${last}` : ''}`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      c.off('error', onError);
      resolve();
    };
    c.once('ready', onReady);
    c.on('error', onError);
  });
}
