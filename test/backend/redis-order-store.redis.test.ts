import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { openTestBackend } from '../support/backends.js';
import { RedisServer } from '../support/redis-server.js';
import { orderStoreContract } from '../orders/order-store.contract.js';

/** One redis-server for the file; every case gets its own stores under a fresh key prefix. */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

/**
 * Redis's clock cannot be moved, but all it governs here is key expiry: `ms`
 * of Redis time shortens every TTL by `ms` and removes the keys it runs out.
 * Done to each key atomically (the script sees one time), for every key of
 * the case's prefix.
 */
const ADVANCE = `
for _, key in ipairs(KEYS) do
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    if ttl <= tonumber(ARGV[1]) then redis.call('DEL', key) else redis.call('PEXPIRE', key, ttl - tonumber(ARGV[1])) end
  end
end
return 0`;

async function advance(redis: Redis, prefix: string, ms: number): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.eval(ADVANCE, keys.length, ...keys, ms);
  } while (cursor !== '0');
}

orderStoreContract('RedisOrderStore', async (timing) => {
  const t = await openTestBackend('redis', { redisUrl: server.url, timing });
  return {
    orders: t.backend.orders,
    drivers: t.backend.drivers,
    advanceStoreClock: (ms) => advance(t.admin!, t.prefix, ms),
    cleanup: () => t.cleanup(),
  };
});
