/**
 * In-process nearby on one thread: the old memory store's search (a Map of
 * cells, RingPlanner.slices + scanSlice + runNearby; bench/scenarios/nearby-baseline.ts)
 * against DriverIndex.nearby, and MemoryDriverStore.nearby (DriverIndex
 * behind the async DriverStore API), over the same drivers with the same
 * queries in the same run:
 *
 *   100,000 available drivers parked uniformly over 30 × 30 km of Berlin, H3 resolution 9
 *   nearest 10 within 3000 m        (match's candidate search; issue 10: ≥ 100,000 queries/s)
 *   everyone within 1000 m, limit 500
 *   uniform random query points in the box, one query at a time
 *
 * Each ring cache is warmed first with one query at the centre of every cell
 * of the box (a process that has served the city for a while; the match
 * suite does the same), so no side pays for cold ring geometry. The sides
 * alternate in rounds, each round the same query sequence for every side, so
 * that a burst of other work on the machine lands on all of them. Latency is
 * per query (performance.now() around the call); queries/s is queries over
 * the window's wall time, the query points and the clock reads included.
 */
import { cellToLatLng, polygonToCells } from 'h3-js';
import { DriverIndex } from '../../src/geo/driver-index.js';
import type { NearbyDriver, NearbyOptions } from '../../src/geo/driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import type { Progress } from '../lib/clock.js';
import { type Area, CITY_BOX, pointIn } from '../lib/driver-sim.js';
import type { RunOptions } from '../lib/options.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { ParkedFleet } from '../lib/parked-fleet.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { waitForQuiet } from '../lib/proc-stats.js';
import { fmtInt, fmtPct, type Row } from '../lib/report.js';
import { MapOfCellsBaseline } from './nearby-baseline.js';

export interface NearbyBenchContext {
  progress: Progress;
  options: RunOptions;
}

const PHASE = 'nearby in-process';
const RESOLUTION = 9;
const FLEET_SEED = 0xf1ee7;
const QUERY_SEED = 0x9e0;
/** Issue 10: in-process nearest 10 within 3 km over 100,000 drivers, one core. */
const TARGET_QPS = 100_000;
/** Rounds per side and shape; each round is a third of --duration. */
const ROUNDS = 3;
const AGREEMENT_SAMPLES = 2_000;
/** Every parked driver stays fresh for the whole run (the filter is still applied to each). */
const STALE_MS = 30 * 60_000;
/** Other processes below this share of one core count as quiet (as in bench/lib/quiet-machine.ts). */
const QUIET_OTHERS_PCT = 15;

interface Shape {
  name: string;
  radiusM: number;
  options: NearbyOptions;
  target: boolean;
}

const SHAPES: Shape[] = [
  { name: 'nearest 10 within 3000 m', radiusM: 3000, options: { limit: 10 }, target: true },
  { name: 'everyone within 1000 m (limit 500)', radiusM: 1000, options: { limit: 500 }, target: false },
];

interface Side {
  name: string;
  /** Sync where the path is (DriverIndex): no promise per query. */
  sync?: (lat: number, lng: number, shape: Shape, now: number) => NearbyDriver[];
  async?: (lat: number, lng: number, shape: Shape, now: number) => Promise<NearbyDriver[]>;
}

interface Tally {
  queries: number;
  seconds: number;
  cpuS: number;
  othersCpuS: number;
  returned: number;
  /** Per-query latency, µs. */
  samples: Float64Array;
}

export async function runNearbyIndex(ctx: NearbyBenchContext): Promise<Row[]> {
  const o = ctx.options;
  const drivers = o.quick ? 20_000 : 100_000;
  const area = CITY_BOX;
  const fleet = new ParkedFleet(area, drivers, FLEET_SEED, 'drv');
  const now = Date.now();
  ctx.progress.log(PHASE, `parking ${fmtInt(drivers)} drivers in the old Map of cells, a DriverIndex and a MemoryDriverStore`);
  const baseline = new MapOfCellsBaseline(new RingPlanner(RESOLUTION), STALE_MS);
  const index = new DriverIndex(RESOLUTION);
  // The memory engine as the gateway opens it (its DriverStore is a MemoryDriverStore).
  const backend = await openBenchBackend({ h3Resolution: RESOLUTION, timing: { staleMs: STALE_MS, offlineMs: 2 * STALE_MS, retentionMs: 4 * STALE_MS } });
  const store = backend.drivers;
  for (let i = 0; i < fleet.size; i++) {
    const ping = { seq: 1, lat: fleet.lat[i]!, lng: fleet.lng[i]!, ts: now, status: 'available' as const };
    baseline.apply({ driverId: fleet.ids[i]!, pings: [ping] });
    index.apply({ driverId: fleet.ids[i]!, ...ping });
  }
  await fleet.load(store, now);

  const sides: Side[] = [
    { name: 'before: Map of cells + RingPlanner.slices / scanSlice / runNearby (the old MemoryDriverStore.nearby)', async: (lat, lng, s, t) => baseline.nearby(lat, lng, s.radiusM, s.options, t) },
    { name: 'DriverIndex.nearby', sync: (lat, lng, s, t) => index.nearby(lat, lng, s.radiusM, s.options, t, STALE_MS) },
    { name: 'MemoryDriverStore.nearby (DriverIndex behind the async DriverStore API)', async: (lat, lng, s, t) => store.nearby(lat, lng, s.radiusM, s.options, t) },
  ];
  const rows: Row[] = [
    {
      scenario: PHASE,
      figure: 'parameters',
      value:
        `${fmtInt(drivers)} available drivers parked uniformly over ${(2 * area.halfSideM) / 1000} × ${(2 * area.halfSideM) / 1000} km of ${area.name}, H3 resolution ${RESOLUTION}; ` +
        `one query at a time on the benchmark's one JS thread, uniform random query points in the box; ${ROUNDS} alternating rounds of ${(o.durationS / ROUNDS).toFixed(1)} s per side and shape after ${o.warmupS} s of warm-up; ` +
        `ring caches warmed with one query at the centre of each of the box's ${fmtInt(boxCells(area).length)} cells`,
    },
  ];
  const cells = boxCells(area);
  for (const shape of SHAPES) {
    ctx.progress.log(PHASE, `${shape.name}: warming the ring caches (${fmtInt(cells.length)} origins per side)`);
    for (const side of sides) for (const [lat, lng] of cells) await ask(side, lat, lng, shape, now);
    for (const side of sides) await measure(side, shape, area, now, o.warmupS, QUERY_SEED - 1);
    const tallies = sides.map(emptyTally);
    for (let round = 0; round < ROUNDS; round++) {
      if (o.waitQuietS > 0) await waitForQuiet(new Map([['bench', process.pid]]), QUIET_OTHERS_PCT, o.waitQuietS, (pct) => ctx.progress.log(PHASE, `waiting for other processes to go quiet (they use ${fmtPct(pct)} of one core)`));
      for (const [i, side] of sides.entries()) add(tallies[i]!, await measure(side, shape, area, now, o.durationS / ROUNDS, QUERY_SEED + round));
    }
    const name = `${PHASE}: ${shape.name}`;
    sides.forEach((side, i) => {
      const t = tallies[i]!;
      ctx.progress.log(PHASE, `${shape.name}: ${side.name.split(':')[0]}: ${fmtInt(t.queries / t.seconds)} q/s`);
      const isIndex = side.sync !== undefined;
      rows.push({
        scenario: name,
        figure: `${side.name}: queries/s`,
        value: describe(t),
        ...(shape.target && isIndex ? { target: `≥ ${fmtInt(TARGET_QPS)}`, met: t.queries / t.seconds >= TARGET_QPS } : {}),
      });
    });
    const [before, after, viaStore] = tallies.map((t) => t.queries / t.seconds) as [number, number, number];
    rows.push({ scenario: name, figure: 'DriverIndex ÷ before; MemoryDriverStore ÷ before (queries/s)', value: `${(after / before).toFixed(1)} ×; ${(viaStore / before).toFixed(1)} ×` });
    rows.push({ scenario: name, figure: `agreement over ${fmtInt(AGREEMENT_SAMPLES)} sampled queries`, value: await agreement(sides, shape, area, now) });
  }
  await backend.close();
  return rows;
}

async function ask(side: Side, lat: number, lng: number, shape: Shape, now: number): Promise<NearbyDriver[]> {
  return side.sync ? side.sync(lat, lng, shape, now) : side.async!(lat, lng, shape, now);
}

/** One side, one query at a time, for `seconds`. */
async function measure(side: Side, shape: Shape, area: Area, now: number, seconds: number, seed: number): Promise<Tally> {
  const rand = mulberry32(seed);
  let samples = new Float64Array(1 << 16);
  let n = 0;
  let returned = 0;
  const others = new CpuWindow(new Map([['bench', process.pid]]));
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const { sync } = side;
  for (;;) {
    // The clock is read every 64 queries: often enough for a window of seconds.
    if ((n & 63) === 0 && performance.now() >= deadline) break;
    const p = pointIn(area, rand);
    const t0 = performance.now();
    const found = sync ? sync(p.lat, p.lng, shape, now) : await side.async!(p.lat, p.lng, shape, now);
    const us = (performance.now() - t0) * 1000;
    if (n === samples.length) {
      const more = new Float64Array(2 * n);
      more.set(samples);
      samples = more;
    }
    samples[n++] = us;
    returned += found.length;
  }
  const wallS = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const c = others.end();
  return { queries: n, seconds: wallS, cpuS: (cpu.user + cpu.system) / 1e6, othersCpuS: (c.othersPct / 100) * wallS, returned, samples: samples.subarray(0, n) };
}

function emptyTally(): Tally {
  return { queries: 0, seconds: 0, cpuS: 0, othersCpuS: 0, returned: 0, samples: new Float64Array(0) };
}

function add(into: Tally, t: Tally): void {
  into.queries += t.queries;
  into.seconds += t.seconds;
  into.cpuS += t.cpuS;
  into.othersCpuS += t.othersCpuS;
  into.returned += t.returned;
  const all = new Float64Array(into.samples.length + t.samples.length);
  all.set(into.samples);
  all.set(t.samples, into.samples.length);
  into.samples = all;
}

function describe(t: Tally): string {
  const sorted = Float64Array.from(t.samples).sort();
  const at = (q: number): string => {
    const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
    return v < 100 ? v.toFixed(1) : fmtInt(v);
  };
  return (
    `${fmtInt(t.queries / t.seconds)} (latency p50 / p99 / p99.9 ${at(0.5)} / ${at(0.99)} / ${at(0.999)} µs; ` +
    `CPU ${((t.cpuS / t.queries) * 1e6).toFixed(1)} µs per query; ${(t.returned / t.queries).toFixed(1)} drivers per answer; ` +
    `other processes ${fmtPct((t.othersCpuS / t.seconds) * 100)} of one core)`
  );
}

/** The same sampled queries through every side: answers compared field by field. */
async function agreement(sides: Side[], shape: Shape, area: Area, now: number): Promise<string> {
  const rand = mulberry32(QUERY_SEED ^ 0xa9);
  let identical = 0;
  let firstDiff = '';
  for (let i = 0; i < AGREEMENT_SAMPLES; i++) {
    const p = pointIn(area, rand);
    const answers = await Promise.all(sides.map((s) => ask(s, p.lat, p.lng, shape, now)));
    const json = answers.map((a) => JSON.stringify(a));
    if (json.every((j) => j === json[0])) identical++;
    else firstDiff ||= ` (first difference at ${p.lat}, ${p.lng})`;
  }
  return `identical answers (ids, order, distances, every field) from all sides in ${fmtInt(identical)} of ${fmtInt(AGREEMENT_SAMPLES)} queries${firstDiff}`;
}

/** The centres of every H3 cell covering the area. */
function boxCells(area: Area): [number, number][] {
  const dLat = area.halfSideM / 111_320;
  const dLng = area.halfSideM / (111_320 * Math.cos((area.lat * Math.PI) / 180));
  const ring: [number, number][] = [
    [area.lat - dLat, area.lng - dLng], [area.lat - dLat, area.lng + dLng],
    [area.lat + dLat, area.lng + dLng], [area.lat + dLat, area.lng - dLng],
  ];
  return polygonToCells(ring, RESOLUTION).map((c) => cellToLatLng(c));
}
