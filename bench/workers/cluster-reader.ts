/**
 * One reader of bench:cluster's nearby figure: DriverStore.nearby() in a
 * closed loop with a fixed number of queries in flight, on whichever engine
 * the config names, over the fleet the suite parked. The query shape and
 * points are bench:match's (nearest 10 within 3 km, uniform in the box).
 *
 * Before the first window it warms the ring planner's per-origin cache with
 * one query per H3 cell of the box, as bench:match does: a process that has
 * served a city for a while has every origin cached.
 */
import { cellToLatLng } from 'h3-js';
import type { Backend } from '../../src/backend/backend.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { boxCells } from '../lib/box-cells.js';
import { nowMs, sleep, sleepUntil } from '../lib/clock.js';
import { pointIn } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';
import { type ReaderConfig, type ReaderGo, type ReaderResult, tallyError } from './cluster-messages.js';

/** A query that threw is followed by this pause, so a failing store is counted, not spun on. */
const ERROR_PAUSE_MS = 50;
/** Offline and retention far beyond the run: nothing is swept. */
const LONG_MS = 7 * 86_400_000;

let config: ReaderConfig;
let backend: Backend | undefined;

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as ReaderConfig;
    backend = await openBenchBackend({
      redisUrl: config.redisUrl, prefix: config.prefix, h3Resolution: config.h3Resolution, engine: config.engine,
      timing: { staleMs: config.staleMs, offlineMs: LONG_MS, retentionMs: LONG_MS },
    });
    await warmRingCache();
    toParent({ type: 'ready' });
  } else if (m.type === 'go') {
    toParent(await run(m as ReaderGo));
  } else if (m.type === 'exit') {
    await backend?.close();
    process.exit(0);
  }
});

async function warmRingCache(): Promise<void> {
  const cells = boxCells(config.area, config.h3Resolution).map((c) => cellToLatLng(c));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cells.length) {
      const [lat, lng] = cells[next++]!;
      await backend!.drivers.nearby(lat, lng, config.radiusM, { limit: config.limit }, Date.now());
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, lane));
}

async function run(go: ReaderGo): Promise<ReaderResult> {
  const { measureFrom: from, measureTo: to } = go;
  const store = backend!.drivers;
  const rand = mulberry32(go.seed);
  const latency = new Histogram();
  const errors: Record<string, number> = {};
  let windowQueries = 0;
  let windowReturned = 0;
  const lane = async (): Promise<void> => {
    while (nowMs() < to) {
      const p = pointIn(config.area, rand);
      const t0 = nowMs();
      try {
        const found = await store.nearby(p.lat, p.lng, config.radiusM, { limit: config.limit }, Date.now());
        const t1 = nowMs();
        if (t0 >= from && t0 < to) latency.record(t1 - t0);
        if (t1 >= from && t1 < to) {
          windowQueries++;
          windowReturned += found.length;
        }
      } catch (err) {
        if (t0 >= from && t0 < to) tallyError(errors, err);
        await sleep(ERROR_PAUSE_MS);
      }
    }
  };
  await sleepUntil(go.startAt);
  // Every query in flight finishes before the result is reported.
  await Promise.all(Array.from({ length: config.concurrency }, lane));
  return { type: 'result', windowQueries, windowReturned, errors, latency: latency.toJSON() };
}
