/**
 * Loads N parked drivers (one ping each) into a store, for the memory
 * scenario. Mode `redis`: through RedisDriverStore (the orchestrator reads
 * INFO memory around it). Mode `memory`: into a MemoryDriverStore in this
 * process (started with --expose-gc), measuring the heap it holds.
 */
import type { DriverBatch } from '../../src/geo/driver-store.js';
import type { DriverStore } from '../../src/geo/driver-store.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import type { Message } from '../lib/worker.js';
import { nowMs } from '../lib/clock.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { driverId, metroAreas, pointIn } from '../lib/driver-sim.js';
import type { MemoryLoadConfig, MemoryLoadResult } from '../lib/messages.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

/** Progress every this many drivers. */
const PROGRESS_EVERY = 100_000;

serveParent(async (m: Message) => {
  if (m.type === 'config') toParent(await load(m as MemoryLoadConfig));
  else if (m.type === 'exit') process.exit(0);
});

/**
 * V8 heap plus array buffers: the memory store keeps its drivers in typed
 * arrays (DriverIndex), whose bytes V8 counts outside the heap.
 */
function heapAndBuffers(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function collect(): void {
  const gc = globalThis.gc;
  if (!gc) throw new Error('memory-worker needs --expose-gc');
  // Twice: the first pass can leave objects that only a second one frees (weak refs, finalizers).
  gc();
  gc();
}

async function load(c: MemoryLoadConfig): Promise<MemoryLoadResult> {
  const planner = new RingPlanner(c.h3Resolution);
  planner.cellOf(0, 0); // Loads h3-js's WASM before the heap is measured.
  let heapBefore = 0;
  if (c.mode === 'memory') {
    collect();
    heapBefore = heapAndBuffers();
  }
  const backend = await openBenchBackend({ ...(c.mode === 'memory' ? {} : { redisUrl: c.redisUrl, prefix: c.prefix }), h3Resolution: c.h3Resolution, planner });
  const store: DriverStore = backend.drivers;
  const areas = metroAreas(c.metroSideKm);
  const rand = mulberry32(c.seed);
  const now = Date.now();
  let next = 0;
  let reported = 0;
  // Driver i parks in metro i mod 50: the same drivers in both modes (same seed, same order).
  const nextCall = (): DriverBatch[] => {
    const batches: DriverBatch[] = [];
    for (; batches.length < c.driversPerCall && next < c.drivers; next++) {
      const { lat, lng } = pointIn(areas[next % areas.length]!, rand);
      batches.push({
        driverId: driverId('drv', next),
        pings: [{ seq: 1, lat, lng, ts: now, acc: 3 + Math.floor(rand() * 18), spd: 0, hdg: Math.floor(rand() * 360) }],
      });
    }
    return batches;
  };
  const started = nowMs();
  const lane = async (): Promise<void> => {
    while (next < c.drivers) {
      await store.applyBatches(nextCall(), now);
      if (next - reported >= PROGRESS_EVERY) {
        reported = next;
        toParent({ type: 'progress', loaded: next } as Message);
      }
    }
  };
  await Promise.all(Array.from({ length: c.inflight }, lane));
  const seconds = (nowMs() - started) / 1000;
  let heapAfter = 0;
  // Every driver id is distinct, so the store holds as many drivers as were loaded.
  const storeSize = next;
  if (backend.kind === 'memory') {
    collect();
    heapAfter = heapAndBuffers();
  }
  await backend.close();
  return { type: 'result', loaded: next, seconds, heapBefore, heapAfter, storeSize };
}
