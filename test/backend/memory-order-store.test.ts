import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { orderStoreContract } from '../orders/order-store.contract.js';

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
