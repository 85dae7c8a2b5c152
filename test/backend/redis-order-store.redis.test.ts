import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisOrderStore } from '../../src/backend/redis/redis-order-store.js';
import { deleteKeys, openTestBackend, uniquePrefix } from '../support/backends.js';
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

describe('RedisOrderStore opened without an outbox (no event log)', () => {
  it('commits as usual and records nothing', async () => {
    const prefix = uniquePrefix();
    const redis = new Redis(server.url);
    try {
      const orders = new RedisOrderStore(redis, `${prefix}:v1:`, { outbox: false });
      const doc = { orderId: 'o-1', state: 'searching' as const, request: { orderId: 'o-1', pickup: { lat: 52.52, lng: 13.405 }, radiusM: 3000, mode: 'immediate' as const }, requestHash: 'h', attempt: 0, tried: [], history: [], createdAt: 1, updatedAt: 1, version: 0 };
      expect(await orders.commit(doc, 0, { deadline: null, event: { type: 'order.created', actor: 'service' } }, Date.now())).toEqual({ ok: true, version: 1 });
      expect(await orders.commit({ ...doc, state: 'cancelled' }, 1, { deadline: null }, Date.now())).toEqual({ ok: true, version: 2 });
      expect(await orders.get('o-1')).toMatchObject({ state: 'cancelled', version: 2 });
      expect(await orders.outbox(10)).toEqual([]);
      expect(await orders.outboxDepth()).toBe(0);
      expect(await redis.exists(`${prefix}:v1:outbox`)).toBe(0);
    } finally {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  });
});
