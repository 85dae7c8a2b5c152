import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { HexfleetError } from '../../protocol/error-codes.js';

/** Where the data lives: one Redis by URL, or the primary that Sentinels name. */
export type RedisTarget =
  /** With a `rediss://` URL, `tls` adds the CA and client certificate. */
  | { url: string; tls?: ConnectionOptions }
  | {
      sentinels: { host: string; port: number }[];
      /** The monitored primary's name (`sentinel monitor <name> …`). */
      name: string;
      sentinelPassword?: string;
      /** Password of the data nodes. */
      password?: string;
      /** TLS to the Sentinels and to the data nodes they name. */
      tls?: ConnectionOptions;
    };

export interface RedisConnectionOptions {
  target: RedisTarget;
  commandTimeoutMs: number;
  /** Extra ioredis options (tests). */
  redisOptions?: RedisOptions;
}

/**
 * The command connection every Redis part shares. The offline queue is off
 * and a command does not retry, so while Redis is unreachable calls fail fast
 * with `store_unavailable` instead of piling up; ioredis reconnects in the
 * background (backoff capped at 1 s).
 *
 * With Sentinels, ioredis asks them for the current primary on every
 * (re)connect, checks the node it reaches is a primary (ROLE), and on
 * `+switch-master` or a READONLY reply reconnects to the promoted one; the
 * subscriber connection made with `duplicate()` does the same. Scripts the
 * promoted replica never saw are re-sent by ioredis (EVALSHA → NOSCRIPT → EVAL).
 */
export function connectRedis(o: RedisConnectionOptions): Redis {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: Math.max(1000, o.commandTimeoutMs),
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    lazyConnect: false,
  };
  const t = o.target;
  if ('url' in t) return new Redis(t.url, { ...common, ...(t.tls ? { tls: t.tls } : {}), ...o.redisOptions });
  return new Redis({
    ...common,
    sentinels: t.sentinels,
    name: t.name,
    ...(t.sentinelPassword ? { sentinelPassword: t.sentinelPassword } : {}),
    ...(t.password ? { password: t.password } : {}),
    ...(t.tls ? { tls: t.tls, sentinelTLS: t.tls, enableTLSForSentinelMode: true } : {}),
    // Reconnect at once to the new primary when a node answers READONLY (it was demoted).
    reconnectOnError: (err) => (/^READONLY\b/.test(err.message) ? 2 : false),
    sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
    failoverDetector: true,
    ...o.redisOptions,
  });
}

/** Resolves once `redis` is connected, or rejects with `store_unavailable` after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new HexfleetError('store_unavailable', `Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
