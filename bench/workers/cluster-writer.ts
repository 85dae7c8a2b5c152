/**
 * One writer of bench:cluster's ingest figure: the store's write path
 * (DriverStore.applyBatches, the call a gateway's flush makes) driven
 * directly with the gateway's batch composition, several calls in flight,
 * on whichever engine the config names (one Redis, or the Cluster at some
 * area resolution). bench:ingest's ceiling worker, plus what a Cluster adds:
 * failed batches counted instead of fatal, and the moves between areas.
 */
import { Registry } from 'prom-client';
import type { Backend } from '../../src/backend/backend.js';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { nowMs, sleep, sleepUntil } from '../lib/clock.js';
import { DriverSim, driverId } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { GoMessage } from '../lib/messages.js';
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';
import { tallyError, type WriterConfig, type WriterResult } from './cluster-messages.js';

/** A call that threw is retried after this pause, so a failing store is counted, not spun on. */
const ERROR_PAUSE_MS = 50;

let config: WriterConfig;
let backend: Backend | undefined;
/** The engine's own metrics (the Cluster engine counts its moves between areas there). */
const registry = new Registry();
let sims: DriverSim[] = [];
let rr = 0;

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as WriterConfig;
    backend = await openBenchBackend({ redisUrl: config.redisUrl, prefix: config.prefix, h3Resolution: config.h3Resolution, engine: config.engine, registry });
    sims = Array.from({ length: config.drivers }, (_, g) => new DriverSim(driverId(config.idTag, g), config.area, mulberry32(config.seed + g)));
    toParent({ type: 'ready' });
  } else if (m.type === 'go') {
    toParent(await run(m as GoMessage));
  } else if (m.type === 'exit') {
    await backend?.close();
    process.exit(0);
  }
});

/** Moves into another area so far (hexfleet_cluster_area_moves_total; an engine without areas has none). */
async function movesSoFar(): Promise<number> {
  const metric = registry.getSingleMetric('hexfleet_cluster_area_moves_total');
  if (!metric) return 0;
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}

async function run(go: GoMessage): Promise<WriterResult> {
  const { measureFrom: from, measureTo: to } = go;
  const store = backend!.drivers;
  const callLatency = new Histogram();
  const errors: Record<string, number> = {};
  let windowApplied = 0;
  let windowCalls = 0;
  let duplicates = 0;
  let failedBatches = 0;
  let movesAtFrom: Promise<number> | undefined;
  // Round robin: call n carries the next batchesPerCall drivers, as if their frames had arrived in one event-loop turn of a gateway.
  const nextCall = (): DriverBatch[] => {
    const now = Date.now();
    return Array.from({ length: config.batchesPerCall }, () => {
      const sim = sims[rr]!;
      rr = (rr + 1) % sims.length;
      return { driverId: sim.id, pings: sim.nextPings(config.batchPings, config.dtS, config.tsStepMs, now) };
    });
  };
  const lane = async (): Promise<void> => {
    while (nowMs() < to) {
      const t0 = nowMs();
      if (movesAtFrom === undefined && t0 >= from) movesAtFrom = movesSoFar();
      const inWindow = (t: number): boolean => t >= from && t < to;
      try {
        const outcomes = await store.applyBatches(nextCall(), Date.now());
        const t1 = nowMs();
        if (inWindow(t0)) callLatency.record(t1 - t0);
        if (!inWindow(t1)) continue;
        windowCalls++;
        for (const o of outcomes) {
          windowApplied += o.applied;
          duplicates += o.duplicates;
          if (o.failed) {
            failedBatches++;
            tallyError(errors, o.failed);
          }
        }
      } catch (err) {
        if (inWindow(nowMs())) tallyError(errors, err);
        await sleep(ERROR_PAUSE_MS);
      }
    }
  };
  await sleepUntil(go.startAt);
  // Every lane finishes its call in flight before the result is reported.
  await Promise.all(Array.from({ length: config.inflight }, lane));
  return {
    type: 'result', windowApplied, windowCalls, duplicates, failedBatches, errors,
    moves: (await movesSoFar()) - (await (movesAtFrom ?? movesSoFar())), callLatency: callLatency.toJSON(),
  };
}
