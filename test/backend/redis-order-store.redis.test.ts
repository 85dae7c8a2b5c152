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

orderStoreContract('RedisOrderStore', async (timing) => {
  const t = await openTestBackend('redis', { redisUrl: server.url, timing });
  return { orders: t.backend.orders, drivers: t.backend.drivers, cleanup: () => t.cleanup() };
});
