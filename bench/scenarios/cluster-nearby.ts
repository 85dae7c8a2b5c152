/**
 * nearby() on one Redis against the Cluster, same machine, same run, over
 * bench:match's fleet (100,000 available drivers parked uniformly over the
 * 30×30 km box around Berlin, the same seed) and its query (nearest 10
 * within 3 km, uniform random points in the box), from reader processes:
 *
 *   reader ×R ──nearby()──▶ one redis-server                (1 nearby.lua per ring slice)
 *   reader ×R ──nearby()──▶ ClusterDriverStore ──▶ 3 primaries (1 nearby.lua per area the slice's rings touch, in parallel)
 *
 * The fleet is written once per configuration, under a prefix of its own,
 * through the store's own write path (ParkedFleet.load).
 */
import { openBenchBackend } from '../lib/bench-backend.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import { ParkedFleet } from '../lib/parked-fleet.js';
import { fmtInt, fmtMB, fmtMs, fmtPct, type Row } from '../lib/report.js';
import { type Message, Worker } from '../lib/worker.js';
import type { ReaderConfig, ReaderGo, ReaderResult } from '../workers/cluster-messages.js';
import type { ClusterContext, NearbyMeasure, Target } from './cluster-context.js';
import { describeErrors, emptyUsage, groupCpuS, measureWindow, servingCpuS, windowNote } from './cluster-window.js';

const PHASE = 'nearby';
/** bench:match's fleet seed: the same drivers at the same places. */
const FLEET_SEED = 0xf1ee7;
const QUERY_SEED = 0x9e0;
/**
 * 30 minutes, as bench:match: the parked fleet (ts = load time) stays fresh
 * for the whole run; staleness is still checked on every candidate.
 */
const STALE_MS = 30 * 60_000;
/** Time for a reader to open its store and warm its ring cache (one query per cell of the box, ~8,500). */
const READY_TIMEOUT_MS = 180_000;

export async function runClusterNearby(ctx: ClusterContext): Promise<Row[]> {
  const o = ctx.options.nearby;
  const targets = ctx.targets.filter((t) => !t.ingestOnly);
  const fleet = new ParkedFleet(CITY_BOX, o.drivers, FLEET_SEED);
  for (const t of targets) await park(ctx, t, fleet);
  const readers = new Map<Target['key'], Worker[]>();
  try {
    for (const t of targets) {
      ctx.progress.log(PHASE, `${t.label}: starting ${o.readers} reader process(es), each warming its ring cache`);
      const rs = Array.from({ length: o.readers }, (_, i) => new Worker(`reader ${t.key}-${i + 1}`, 'cluster-reader.js'));
      readers.set(t.key, rs);
      const config: ReaderConfig = {
        type: 'config', redisUrl: t.redisUrl, engine: t.engine, prefix: prefixOf(t), h3Resolution: 9, staleMs: STALE_MS,
        area: CITY_BOX, concurrency: o.concurrencyPerReader, radiusM: o.radiusM, limit: o.limit,
      };
      rs.forEach((r) => r.send(config));
      await Promise.all(rs.map((r) => r.next('ready', READY_TIMEOUT_MS)));
    }
    for (let round = 0; round < ctx.options.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const phase = `${PHASE} round ${round + 1}/${ctx.options.rounds}, ${t.label}`;
        ctx.progress.log(phase, `${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured`);
        const m = ctx.measured.nearby.get(t.key)!;
        // Every configuration gets the same query points in the same round.
        const go = (w: { startAt: number; measureFrom: number; measureTo: number }, i: number): Message => {
          const m: ReaderGo = { type: 'go', ...w, seed: QUERY_SEED + round * 1000 + i };
          return m;
        };
        const { results, window } = await measureWindow<ReaderResult>(ctx, phase, readers.get(t.key)!, go, m.usage);
        const before = m.queries;
        for (const r of results) {
          m.queries += r.windowQueries;
          m.returned += r.windowReturned;
          for (const [k, n] of Object.entries(r.errors)) m.errors[k] = (m.errors[k] ?? 0) + n;
          m.latency.merge(Histogram.fromJSON(r.latency));
        }
        m.perWindow.push((m.queries - before) / ctx.options.durationS);
        m.windowNotes.push(windowNote(window, m.queries - before));
        ctx.progress.log(phase, `${fmtInt(m.perWindow[m.perWindow.length - 1]!)} queries/s, p99 ${fmtMs(m.latency.percentile(0.99))} ms; ${m.windowNotes[m.windowNotes.length - 1]}`);
      }
    }
  } finally {
    await Promise.all([...readers.values()].flat().map((r) => r.stop()));
  }
  return rows(ctx, targets, fleet);
}

const prefixOf = (t: Target): string => `hfc-${t.key}-n`;

/** Writes the fleet into `t`'s store and notes what it took (time, memory on the serving nodes). */
async function park(ctx: ClusterContext, t: Target, fleet: ParkedFleet): Promise<void> {
  const serving = ctx.nodes.filter((n) => (t.cluster ? n.role === 'primary' : n.role === 'standalone'));
  const usedMemory = async (): Promise<number> => {
    const each = await Promise.all(serving.map(async (n) => Number((await n.server.info('memory')).used_memory)));
    return each.reduce((a, b) => a + b, 0);
  };
  const backend = await openBenchBackend({
    redisUrl: t.redisUrl, prefix: prefixOf(t), h3Resolution: 9, engine: t.engine,
    timing: { staleMs: STALE_MS, offlineMs: 7 * 86_400_000, retentionMs: 7 * 86_400_000 },
  });
  try {
    ctx.progress.log(PHASE, `${t.label}: parking ${fmtInt(fleet.size)} available drivers through DriverStore.applyBatches`);
    const before = await usedMemory();
    const t0 = performance.now();
    const applied = await fleet.load(backend.drivers, Date.now());
    const loadS = (performance.now() - t0) / 1000;
    const fleetBytes = (await usedMemory()) - before;
    if (applied !== fleet.size) throw new Error(`${t.label}: ${applied} of ${fleet.size} drivers stored`);
    ctx.progress.log(PHASE, `${t.label}: stored in ${loadS.toFixed(1)} s, ${fmtMB(fleetBytes)} on the serving node(s)`);
    const m: NearbyMeasure = { usage: emptyUsage(), queries: 0, returned: 0, errors: {}, latency: new Histogram(), perWindow: [], windowNotes: [], fleetBytes, loadS };
    ctx.measured.nearby.set(t.key, m);
  } finally {
    await backend.close();
  }
}

/** Queries/s over every window of a configuration. */
export const nearbyRate = (ctx: ClusterContext, m: NearbyMeasure): number => m.queries / (m.perWindow.length * ctx.options.durationS);

function rows(ctx: ClusterContext, targets: Target[], fleet: ParkedFleet): Row[] {
  const o = ctx.options.nearby;
  const out: Row[] = [{
    scenario: 'nearby',
    figure: 'parameters',
    value:
      `${fmtInt(fleet.size)} available drivers, one ping each, uniform over the 30×30 km box around Berlin (bench:match's seed), written per configuration ` +
      `through DriverStore.applyBatches; nearby(lat, lng, ${o.radiusM} m, { limit: ${o.limit} }) at uniform random points, the same sequence for every configuration; ` +
      `closed loop, ${o.readers} reader process(es) × ${o.concurrencyPerReader} queries in flight; each reader warms its ring cache first (one query per H3 cell of the box); ` +
      `${ctx.options.rounds} round(s) of ${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured per configuration, round 2 in reverse order`,
  }];
  for (const t of targets) {
    const m = ctx.measured.nearby.get(t.key)!;
    const u = m.usage;
    const pct = (s: number): string => fmtPct((s / u.seconds) * 100);
    const shards = servingCpuS(ctx, u, t);
    const scriptsByNode = shards.map(([name]) => u.scripts.get(name) ?? 0);
    const scripts = scriptsByNode.reduce((a, b) => a + b, 0);
    const scenario = `nearby: ${t.label}`;
    out.push(
      { scenario, figure: 'configuration', value: t.description },
      { scenario, figure: 'fleet: write time; Redis memory on the serving node(s), per driver', value: `${m.loadS.toFixed(1)} s; ${fmtMB(m.fleetBytes)}, ${fmtInt(m.fleetBytes / fleet.size)} bytes` },
      { scenario, figure: 'queries/s, each window in run order (its other processes, our CPU per 1,000); over all windows', value: `${m.perWindow.map((r, i) => `${fmtInt(r)} (${m.windowNotes[i]})`).join(', ')}; ${fmtInt(nearbyRate(ctx, m))}` },
      {
        scenario,
        figure: 'latency p50 / p99 / p99.9; drivers per answer',
        value: `${fmtMs(m.latency.percentile(0.5))} / ${fmtMs(m.latency.percentile(0.99))} / ${fmtMs(m.latency.percentile(0.999))} ms; ${(m.returned / m.queries).toFixed(1)}`,
      },
      {
        scenario,
        figure: 'Lua script calls per query; share by serving node',
        value: `${(scripts / m.queries).toFixed(2)}; ${shards.map(([name], i) => `${name} ${fmtPct((100 * scriptsByNode[i]!) / scripts)}`).join(', ')}`,
      },
      {
        scenario,
        figure: 'CPU, % of one core: serving Redis (each) / replicas / readers / idle nodes of the other topology / other processes; machine busy',
        value:
          `${shards.map(([name, s]) => `${name} ${pct(s)}`).join(', ')} / ${t.cluster ? pct(groupCpuS(ctx, u, t, 'replicas')) : 'none'} / ` +
          `${pct(groupCpuS(ctx, u, t, 'client'))} / ${pct(groupCpuS(ctx, u, t, 'idle nodes'))} / ${pct(u.othersS)}; ` +
          `${fmtPct((u.busyS / u.seconds / ctx.cpus) * 100)} of all cores`,
      },
      { scenario, figure: 'errors', value: describeErrors(m.errors) },
    );
  }
  const rate = (k: Target['key']): number => {
    const m = ctx.measured.nearby.get(k);
    return m ? nearbyRate(ctx, m) : NaN;
  };
  out.push(
    { scenario: 'nearby ratio', figure: 'Cluster area res 3 ÷ one Redis (queries/s)', value: (rate('c3') / rate('one')).toFixed(2) },
    { scenario: 'nearby ratio', figure: 'Cluster area res 6 ÷ one Redis (queries/s)', value: (rate('c6') / rate('one')).toFixed(2) },
  );
  return out;
}
