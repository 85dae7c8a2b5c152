/**
 * What a driver costs the memory store, before and after DriverIndex, in
 * the same run: the fleet of the ingest suite's memory scenario (issue 2) —
 * 1,000,000 parked drivers, one ping each, uniformly over 50 metro areas of
 * 30 × 30 km, 10-character ids, H3 resolution 9 — loaded into the old
 * layout (bench/scenarios/nearby-baseline.ts: a record object per driver in
 * a Map, a Map of cells to Sets of ids) and into a MemoryDriverStore.
 *
 * Bytes are V8 heap plus array buffers after two full GCs: DriverIndex keeps
 * its drivers in typed arrays, whose memory V8 counts outside the heap, so
 * heapUsed alone would flatter it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { driverId, METRO_CENTRES, metroAreas, pointIn } from '../lib/driver-sim.js';
import { fmtInt, fmtMB, type Row } from '../lib/report.js';
import { MapOfCellsBaseline } from './nearby-baseline.js';
import type { NearbyBenchContext } from './nearby-index.js';

const PHASE = 'memory per driver';
const RESOLUTION = 9;
const SEED = 0xc0ffee;
const METRO_SIDE_KM = 30;
/** Issue 2's budget per driver (set for Redis; the memory store is held to it here too). */
const BUDGET_BYTES = 250;

export async function runNearbyMemory(ctx: NearbyBenchContext): Promise<Row[]> {
  const drivers = ctx.options.quick ? 100_000 : 1_000_000;
  const gc = exposeGc();
  const now = Date.now();
  /** The calls of 1,000 drivers, drawn while loading (so the ids are counted as the store's). */
  function* calls(): Generator<DriverBatch[]> {
    // The ingest suite's memory worker draws the same way: driver i parks in metro i mod 50.
    const areas = metroAreas(METRO_SIDE_KM);
    const rand = mulberry32(SEED);
    for (let first = 0; first < drivers; first += 1000) {
      const call: DriverBatch[] = [];
      for (let i = first; i < Math.min(drivers, first + 1000); i++) {
        const { lat, lng } = pointIn(areas[i % areas.length]!, rand);
        call.push({ driverId: driverId('drv', i), pings: [{ seq: 1, lat, lng, ts: now, acc: 3 + Math.floor(rand() * 18), spd: 0, hdg: Math.floor(rand() * 360) }] });
      }
      yield call;
    }
  }

  /** `load` returns what it filled, held until measured, then closed. */
  const measureOne = async (label: string, load: () => Promise<{ size: number; keep: object & { close?: () => Promise<void> } }>): Promise<number> => {
    gc();
    const before = used();
    ctx.progress.log(PHASE, `loading ${fmtInt(drivers)} drivers into ${label}`);
    const { size, keep } = await load();
    gc();
    const bytes = used() - before;
    await keep.close?.();
    return bytes / size;
  };

  const old = await measureOne('the old layout (Map of records, Map of cell Sets)', async () => {
    const b = new MapOfCellsBaseline(new RingPlanner(RESOLUTION), 30_000);
    for (const call of calls()) for (const batch of call) b.apply(batch);
    return { size: b.size, keep: { baseline: b } };
  });
  const neu = await measureOne('the memory engine\'s MemoryDriverStore (DriverIndex)', async () => {
    const backend = await openBenchBackend({ h3Resolution: RESOLUTION });
    let size = 0;
    for (const call of calls()) {
      await backend.drivers.applyBatches(call, now);
      size += call.length;
    }
    return { size, keep: backend };
  });
  ctx.progress.log(PHASE, `old layout ${old.toFixed(0)} bytes per driver, DriverIndex ${neu.toFixed(0)}`);
  return [
    {
      scenario: PHASE,
      figure: 'parameters',
      value:
        `${fmtInt(drivers)} drivers, one ping each (acc, spd, hdg set), uniformly over ${METRO_CENTRES.length} metro areas of ${METRO_SIDE_KM} × ${METRO_SIDE_KM} km ` +
        `(the ingest suite's memory scenario); 10-character ids; H3 resolution ${RESOLUTION}; bytes = (V8 heapUsed + arrayBuffers) after two full GCs, delta ÷ drivers`,
    },
    { scenario: PHASE, figure: 'before: the old memory store layout (Map of DriverRecord objects, Map of cell → Set of ids)', value: `${old.toFixed(0)} bytes per driver (${fmtMB(old * drivers)})` },
    {
      scenario: PHASE,
      figure: 'MemoryDriverStore on DriverIndex (typed arrays, cell lists in one arena)',
      value: `${neu.toFixed(0)} bytes per driver (${fmtMB(neu * drivers)}; ${(neu / old).toFixed(2)} × before)`,
      // The budget is per driver at 1,000,000; a quick run's sparser fleet pays more per cell.
      ...(drivers === 1_000_000 ? { target: `≤ ${BUDGET_BYTES} bytes`, met: neu <= BUDGET_BYTES } : {}),
    },
  ];
}

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** global.gc without starting node with --expose-gc (the flag can still be set at run time, then read from a fresh context). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Twice: the first pass can leave objects that only a second one frees.
  return () => {
    gc();
    gc();
  };
}
