import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { orderStoreContract } from '../orders/order-store.contract.js';

orderStoreContract('MemoryOrderStore', async (timing) => {
  const drivers = new MemoryDriverStore(new RingPlanner(9), timing);
  const orders = new MemoryOrderStore(drivers);
  return {
    orders,
    drivers,
    cleanup: async () => {
      await orders.close();
      await drivers.close();
    },
  };
});
