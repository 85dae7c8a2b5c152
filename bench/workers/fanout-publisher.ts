/**
 * bench:fanout's publisher: the position bus of a gateway (RedisPositionBus,
 * as the ingest pipeline calls it after each store write) publishing
 * synthetic positions at a commanded rate over a set of markets, without
 * the store write itself (what is measured is the followers' decode cost).
 */
import type { Backend } from '../../src/backend/backend.js';
import type { DriverPosition } from '../../src/tracking/position-bus.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { nowMs, sleepUntil } from '../lib/clock.js';
import type { FanoutConfig, FanoutGo, FanoutStopped } from '../lib/fanout-messages.js';
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

let config: FanoutConfig;
let backend: Backend | undefined;
let drivers: DriverPosition[] = [];
let running: Promise<FanoutStopped> | undefined;
let stopping = false;
/** The most a late tick publishes at once: 100 ms of the rate. */
const MAX_CATCH_UP_MS = 100;

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as FanoutConfig;
    backend = await openBenchBackend({ redisUrl: config.redisUrl, prefix: config.prefix, h3Resolution: 9, engine: { redisAreaResolution: config.areaResolution } });
    // Interleaved by market: consecutive positions of a publish fall in every market alike.
    drivers = [];
    for (let i = 0; i < config.driversPerMarket; i++) {
      config.markets.forEach((c, k) => {
        drivers.push({ driverId: `fan-${k}-${i}`, lat: c.lat + ((i % 100) - 50) * 1e-4, lng: c.lng + (Math.floor(i / 100) % 100 - 50) * 1e-4, ts: 0, seq: 0, status: 'available', vehicle: 'car', spd: 8, hdg: 90 });
      });
    }
    toParent({ type: 'ready' });
  } else if (m.type === 'go') {
    stopping = false;
    running = run(m as FanoutGo);
  } else if (m.type === 'stop') {
    stopping = true;
    toParent(await running!);
  } else if (m.type === 'exit') {
    await backend?.close();
    process.exit(0);
  }
});

async function run(go: FanoutGo): Promise<FanoutStopped> {
  const bus = backend!.positions;
  const start = nowMs();
  let positions = 0;
  let publishes = 0;
  let next = 0;
  let worstLateMs = 0;
  let dropped = 0;
  for (let tick = 1; !stopping; tick++) {
    const due = start + tick * go.tickMs;
    await sleepUntil(due);
    worstLateMs = Math.max(worstLateMs, nowMs() - due);
    // Ticks missed while starved are skipped (their positions are owed below), not run one by one.
    tick = Math.max(tick, Math.floor((nowMs() - start) / go.tickMs));
    // Positions owed by now (a late tick catches up, as a store write carries what arrived meanwhile), at most
    // MAX_CATCH_UP_MS worth: a publisher starved by other processes drops the rest rather than bursting.
    let owed = Math.floor(((nowMs() - start) / 1000) * go.rate) - positions - dropped;
    const cap = Math.ceil((go.rate * MAX_CATCH_UP_MS) / 1000);
    if (owed > cap) {
      dropped += owed - cap;
      owed = cap;
    }
    if (owed <= 0) continue;
    const batch: DriverPosition[] = new Array(owed);
    const now = Date.now();
    for (let k = 0; k < owed; k++) {
      const d = drivers[next]!;
      next = (next + 1) % drivers.length;
      d.seq! += 1;
      d.ts = now;
      d.lat += 1e-6;
      batch[k] = { ...d };
    }
    bus.publish(batch);
    positions += owed;
    publishes++;
  }
  return { type: 'stopped', positions, publishes, dropped, seconds: (nowMs() - start) / 1000, worstLateMs };
}
