import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { memoryIndexTamper } from '../support/index-tamper.js';
import { driverStoreContract } from '../geo/driver-store.contract.js';

driverStoreContract('MemoryDriverStore', async (timing, resolution) => {
  const store = new MemoryDriverStore(new RingPlanner(resolution), timing);
  return { store, tamper: memoryIndexTamper(store), cleanup: () => store.close() };
});
