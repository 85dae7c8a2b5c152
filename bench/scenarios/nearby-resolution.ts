/**
 * Why resolution 9 and why "2 rings first, then doubling": measures nearby()
 * on the Redis store and the memory store at H3 resolutions 7–10, on a dense
 * city (100,000 drivers over 30 × 30 km, like the dispatch benchmark) and a
 * sparse one (2,000 drivers), for the two query shapes dispatch uses:
 * nearest 10 within 3 km, and everyone within 1 km (limit 500).
 * It also compares ring-search strategies at the chosen resolution.
 *
 *   npm run bench:resolution [-- --quick]   (node dist/bench/run.js resolution)
 */
import { RingPlanner } from '../../src/geo/ring-planner.js';
import type { DriverBatch, DriverStore, NearbyOptions } from '../../src/geo/driver-store.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import type { RedisServer } from '../../kit/redis-server.js';
import { openBenchBackend } from '../lib/bench-backend.js';

const CONCURRENCY = 16;
const BOX = { lat: 52.52, lng: 13.405, halfKm: 15 };

interface Scenario {
  name: string;
  drivers: number;
  radiusM: number;
  options: NearbyOptions;
}

/** Drivers in the box: a dense city (20,000 in a quick run) and a sparse one. */
const densities = (quick: boolean): number[] => (quick ? [20_000, 2_000] : [100_000, 2_000]);
const QUERIES: Omit<Scenario, 'drivers' | 'name'>[] = [
  { radiusM: 3000, options: { limit: 10 } },
  { radiusM: 1000, options: { limit: 500 } },
];

function randomPoint(rand: () => number): [number, number] {
  const dLat = (BOX.halfKm / 111.32) * (2 * rand() - 1);
  const dLng = (BOX.halfKm / (111.32 * Math.cos((BOX.lat * Math.PI) / 180))) * (2 * rand() - 1);
  return [BOX.lat + dLat, BOX.lng + dLng];
}

async function load(store: DriverStore, drivers: number, now: number): Promise<void> {
  const rand = mulberry32(42);
  for (let i = 0; i < drivers; i += 2000) {
    const batches: DriverBatch[] = [];
    for (let j = i; j < Math.min(drivers, i + 2000); j++) {
      const [lat, lng] = randomPoint(rand);
      batches.push({ driverId: `drv-${j}`, pings: [{ seq: 1, lat, lng, ts: now - 1000, status: 'available' }] });
    }
    await store.applyBatches(batches, now);
  }
}

/** Closed loop with CONCURRENCY queries in flight for `seconds`; returns queries/s and mean drivers returned. */
async function measure(store: DriverStore, radiusM: number, options: NearbyOptions, now: number, seconds: number): Promise<{ qps: number; found: number }> {
  const rand = mulberry32(7);
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let found = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const [lat, lng] = randomPoint(rand);
      const drivers = await store.nearby(lat, lng, radiusM, options, now);
      found += drivers.length;
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { qps: done / ((performance.now() - start) / 1000), found: found / done };
}

/**
 * Every density × resolution × query on both stores, then the ring-search
 * strategies; `redis` is flushed between loads. Returns the markdown tables
 * (printed by the runner on stdout); each row also goes to stderr as it is
 * measured (progress).
 */
export async function runResolution(redis: RedisServer, o: { quick: boolean; durationS: number }): Promise<string> {
  const fleets = densities(o.quick);
  const admin = redis.client;
  const rows: string[] = [];
  const now = Date.now();
  const usedMemory = async (): Promise<number> => Number((await redis.info('memory')).used_memory);
  for (const drivers of fleets) {
    for (const res of [7, 8, 9, 10]) {
      await admin.flushall();
      const before = await usedMemory();
      const rbackend = await openBenchBackend({ redisUrl: redis.url, h3Resolution: res });
      const mbackend = await openBenchBackend({ h3Resolution: res });
      const rstore = rbackend.drivers;
      const mstore = mbackend.drivers;
      await load(rstore, drivers, now);
      await load(mstore, drivers, now);
      const after = await usedMemory();
      for (const q of QUERIES) {
        const r = await measure(rstore, q.radiusM, q.options, now, o.durationS);
        const m = await measure(mstore, q.radiusM, q.options, now, o.durationS);
        const row = `| ${drivers.toLocaleString('en')} | ${res} | ${q.radiusM} m, limit ${q.options.limit} | ${r.qps.toFixed(0)} | ${m.qps.toFixed(0)} | ${r.found.toFixed(1)} | ${((after - before) / drivers).toFixed(0)} |`;
        rows.push(row);
        console.error(row);
      }
      await rbackend.close();
      await mbackend.close();
    }
  }
  // Strategy at the chosen resolution: how many rings the first round trip reads.
  const strategies: string[] = [];
  await admin.flushall();
  for (const first of [0, 1, 2, 4, 1000]) {
    const rbackend = await openBenchBackend({ redisUrl: redis.url, h3Resolution: 9, planner: new RingPlanner(9, first) });
    const rstore = rbackend.drivers;
    if (first === 0) await load(rstore, fleets[0]!, now);
    for (const q of QUERIES) {
      const r = await measure(rstore, q.radiusM, q.options, now, o.durationS);
      const label = first === 1000 ? 'whole radius in one call' : `rings 0..${first} first, then doubling`;
      const row = `| ${label} | ${q.radiusM} m, limit ${q.options.limit} | ${r.qps.toFixed(0)} |`;
      strategies.push(row);
      console.error(row);
    }
    await rbackend.close();
  }
  return [
    `\n### nearby() by H3 resolution (Redis and memory stores, ${CONCURRENCY} queries in flight, ${o.durationS} s each)\n`,
    '| drivers in 30×30 km | resolution | query | Redis q/s | memory q/s | drivers returned | Redis bytes/driver |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    `\n### Ring-search strategy at resolution 9, ${fleets[0]!.toLocaleString('en')} drivers (Redis store)\n`,
    '| strategy | query | Redis q/s |',
    '|---|---|---|',
    ...strategies,
  ].map((line) => line + '\n').join('');
}
