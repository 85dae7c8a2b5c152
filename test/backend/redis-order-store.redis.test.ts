import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { RedisOrderStore } from '../../src/backend/redis/redis-order-store.js';
import { RedisDriverStore } from '../../src/backend/redis/redis-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { deleteKeys } from '../support/redis-gateway.js';
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
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const drivers = new RedisDriverStore({
    // Generous: a busy CI machine must never turn a slow reply into a failure.
    url: server.url, prefix, commandTimeoutMs: 10_000, timing, planner: new RingPlanner(9),
  });
  drivers.redis.on('error', () => {});
  await drivers.waitUntilReady(20_000);
  // The order store shares the driver store's connection and versioned prefix, as createDispatch wires it.
  const orders = new RedisOrderStore(drivers.redis, drivers.keyPrefix);
  return {
    orders,
    drivers,
    cleanup: async () => {
      await deleteKeys(drivers.redis, prefix);
      await orders.close();
      await drivers.close();
    },
  };
});
