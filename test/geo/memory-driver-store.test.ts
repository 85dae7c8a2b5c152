import { MemoryDriverStore } from '../../src/geo/memory-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { memoryIndexTamper } from '../support/index-tamper.js';
import { driverStoreContract } from './driver-store.contract.js';

driverStoreContract('MemoryDriverStore', async (timing, resolution) => {
  const store = new MemoryDriverStore(new RingPlanner(resolution), timing);
  return { store, tamper: memoryIndexTamper(store), cleanup: () => store.close() };
});
