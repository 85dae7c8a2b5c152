import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT_TIMING, orderStoreContract } from '../orders/order-store.contract.js';

orderStoreContract('MemoryOrderStore', async (timing) => {
  const drivers = new MemoryDriverStore(new RingPlanner(9), timing);
  // The store's clock: real time, plus what a case made pass without waiting.
  let ahead = 0;
  const orders = new MemoryOrderStore(drivers, () => Date.now() + ahead);
  return {
    orders,
    drivers,
    advanceStoreClock: async (ms) => {
      ahead += ms;
    },
    cleanup: async () => {
      await orders.close();
      await drivers.close();
    },
  };
});

describe('MemoryOrderStore opened without an outbox (no event log)', () => {
  it('commits as usual and records nothing', async () => {
    const drivers = new MemoryDriverStore(new RingPlanner(9), ORDER_CONTRACT_TIMING);
    const orders = new MemoryOrderStore(drivers, Date.now, { outbox: false });
    const doc = { orderId: 'o-1', state: 'searching' as const, request: { orderId: 'o-1', pickup: { lat: 52.52, lng: 13.405 }, radiusM: 3000, mode: 'immediate' as const }, requestHash: 'h', attempt: 0, tried: [], history: [], createdAt: 1, updatedAt: 1, version: 0 };
    expect(await orders.commit(doc, 0, { deadline: null, event: { type: 'order.created', actor: 'service' } }, Date.now())).toEqual({ ok: true, version: 1 });
    expect(await orders.commit({ ...doc, state: 'cancelled' }, 1, { deadline: null }, Date.now())).toEqual({ ok: true, version: 2 });
    expect(await orders.get('o-1')).toMatchObject({ state: 'cancelled', version: 2 });
    expect(await orders.outbox(10)).toEqual([]);
    expect(await orders.outboxDepth()).toBe(0);
    await orders.close();
    await drivers.close();
  });
});
