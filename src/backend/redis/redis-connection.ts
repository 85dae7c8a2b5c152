import { Redis, type RedisOptions } from 'ioredis';
import { HexfleetError } from '../../protocol/error-codes.js';

export interface RedisConnectionOptions {
  url: string;
  commandTimeoutMs: number;
  /** Extra ioredis options (tests). */
  redisOptions?: RedisOptions;
}

/**
 * The command connection every Redis part shares. The offline queue is off
 * and a command does not retry, so while Redis is unreachable calls fail fast
 * with `store_unavailable` instead of piling up; ioredis reconnects in the
 * background (backoff capped at 1 s).
 */
export function connectRedis(o: RedisConnectionOptions): Redis {
  return new Redis(o.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: Math.max(1000, o.commandTimeoutMs),
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    lazyConnect: false,
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
