/**
 * The Redis-only ceiling: the store's write path (RedisDriverStore.applyBatches,
 * the same Lua call the gateway makes) driven directly with the batch
 * composition the gateway produces, several calls in flight, no gateway and
 * no WebSocket. Forked by the throughput scenario.
 */
import type { DriverBatch, DriverStore } from '../../src/geo/driver-store.js';
import type { Backend } from '../../src/backend/backend.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import type { Message } from '../lib/worker.js';
import { nowMs, sleepUntil } from '../lib/clock.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { DriverSim, driverId } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { CeilingConfig, CeilingResult, GoMessage } from '../lib/messages.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

let config: CeilingConfig;
let backend: Backend | undefined;
let store: DriverStore;
let sims: DriverSim[] = [];

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as CeilingConfig;
    backend = await openBenchBackend({ redisUrl: config.redisUrl, prefix: config.prefix, h3Resolution: config.h3Resolution });
    store = backend.drivers;
    sims = Array.from({ length: config.drivers }, (_, g) => {
      const id = driverId(config.idTag, g);
      return new DriverSim(id, config.area, mulberry32(config.seed + g));
    });
    toParent({ type: 'ready' });
  } else if (m.type === 'go') {
    toParent(await run(m as GoMessage));
  } else if (m.type === 'exit') {
    await backend?.close();
    process.exit(0);
  }
});

async function run(go: GoMessage): Promise<CeilingResult> {
  const { measureFrom: from, measureTo: to } = go;
  const callLatency = new Histogram();
  let rr = 0;
  let windowApplied = 0;
  let windowCalls = 0;
  let duplicates = 0;
  // Drivers round-robin: call n carries the next batchesPerCall drivers, as if
  // their frames had arrived in the same event-loop turn of the gateway.
  const nextCall = (): DriverBatch[] => {
    const batches: DriverBatch[] = new Array(config.batchesPerCall);
    const now = Date.now();
    for (let k = 0; k < config.batchesPerCall; k++) {
      const sim = sims[rr]!;
      rr = (rr + 1) % sims.length;
      batches[k] = { driverId: sim.id, pings: sim.nextPings(config.batchPings, config.dtS, config.tsStepMs, now) };
    }
    return batches;
  };
  const lane = async (): Promise<void> => {
    while (nowMs() < to) {
      const batches = nextCall();
      const t0 = nowMs();
      const outcomes = await store.applyBatches(batches, Date.now());
      const t1 = nowMs();
      let applied = 0;
      for (const o of outcomes) {
        applied += o.applied;
        duplicates += o.duplicates;
      }
      if (t1 >= from && t1 < to) {
        windowApplied += applied;
        windowCalls++;
      }
      if (t0 >= from && t0 < to) callLatency.record(t1 - t0);
    }
  };
  await sleepUntil(go.startAt);
  // Every lane finishes its call in flight before the result is reported.
  await Promise.all(Array.from({ length: config.inflight }, lane));
  return { type: 'result', windowApplied, windowCalls, duplicates, callLatency: callLatency.toJSON() };
}
