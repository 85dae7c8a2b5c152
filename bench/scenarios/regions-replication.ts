/**
 * Cross-region replication's lag and cost, two regions on one machine
 * (kit/region.ts: each its own Redis, Kafka, gateway and inbound MirrorMaker 2).
 *
 *   loadgen ─▶ gateway a ─▶ redis a, kafka a ──mirror in b (a->b)──▶ kafka b ─▶ applier in gateway b ─▶ redis b
 *
 * R1 lag: an open-loop fleet sending `rate` pings/s into region a (batches
 * of 4 every 4 s per driver, as bench:ingest's B); b's
 * hexfleet_replication_lag_seconds histogram over the window (the record's
 * time in a's log → applied in b's Redis).
 *
 * R2 cost: bench:ingest's A shape (closed loop, saturating region a's
 * gateway) in windows alternating replication on and off, the order flipping
 * each pair. Off: b's inbound mirror SIGSTOPped (the JVM takes no CPU, b's
 * applier gets nothing); before an "on" window the mirror is resumed and b
 * has caught up on everything a logged (so a backlog never weighs on it).
 * Every process shares the machine's cores, so "on" pays for MirrorMaker's
 * fetches from a's Kafka AND for b's applier and Redis writes; in a real
 * deployment only the fetches land in region a.
 */
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { metricSum } from '../../kit/metrics-scrape.js';
import type { Region } from '../../kit/region.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { connectLoadgens, cpuOf, describeErrors, driveLoad, type LoadOutcome, type LoadRunContext, openFleetConfigs } from '../lib/load-run.js';
import type { LoadgenConfig } from '../lib/messages.js';
import { bucketQuantile, type BucketCounts, fmtBucketQuantile, histogramDelta } from '../lib/prom-histogram.js';
import { fmtInt, fmtMs, fmtPct, type Row } from '../lib/report.js';
import { nowMs, sleep } from '../lib/clock.js';

/** Issue 12's figure: replication lag p99 ≤ 1 s at 10,000 pings/s per region. */
const TARGET_P99_S = 1;
/** Time allowed for region b to apply everything a logged before the next window. */
const CATCH_UP_MS = 120_000;

export interface RegionsBenchOptions {
  lag: { rate: number; batchPings: number; periodMs: number; loadgens: number };
  cost: { drivers: number; batchPings: number; depth: number; pairs: number };
}

export type RegionsContext = LoadRunContext & {
  a: Region;
  b: Region;
  jwtSecret: string;
  topicPrefix: string;
  bench: RegionsBenchOptions;
};

type Mode = 'off' | 'on';

/** Everything a logged to its positions topic is applied (or skipped) in b: b's replication counters reach a's append counter. */
async function caughtUp(ctx: RegionsContext): Promise<boolean> {
  const appended = metricSum(await gw(ctx.a).scrape(), 'hexfleet_log_appended_records_total', { topic: `${ctx.topicPrefix}.positions` });
  const seen = metricSum(await gw(ctx.b).scrape(), 'hexfleet_replication_records_total', { source: 'a', kind: 'positions' });
  return seen >= appended;
}

async function waitCaughtUp(ctx: RegionsContext, phase: string): Promise<void> {
  const deadline = nowMs() + CATCH_UP_MS;
  while (!(await caughtUp(ctx))) {
    if (nowMs() > deadline) throw new Error(`${phase}: region b did not apply a's records within ${CATCH_UP_MS / 1000} s`);
    await sleep(200);
  }
}

function gw(r: Region): GatewayProcess {
  return r.gateways[0]!;
}

/** One load window into region a, with b's scrapes around it (for the lag histogram). */
async function window(ctx: RegionsContext, phase: string, configs: LoadgenConfig[], warmupS: number): Promise<{ out: LoadOutcome; lag: BucketCounts; connectFailed: number }> {
  const lg = await connectLoadgens(ctx, phase, configs);
  try {
    // b's scrape brackets a's whole window (warm-up included: its records are applied during the window too).
    const before = [await gw(ctx.b).scrape()];
    const watch = new Map<string, number>([
      ['kafka-a', ctx.a.kafka.pid], ['kafka-b', ctx.b.kafka.pid], ['mirror-b', ctx.b.mirror?.pid ?? NaN], ['mirror-a', ctx.a.mirror?.pid ?? NaN],
      [gw(ctx.b).name, gw(ctx.b).pid], ['redis-b', ctx.b.redis.pid],
    ]);
    const out = await driveLoad(ctx, phase, [gw(ctx.a)], lg.workers, warmupS, watch);
    const lag = histogramDelta(before, [await gw(ctx.b).scrape()], 'hexfleet_replication_lag_seconds', { source: 'a' });
    return { out, lag, connectFailed: lg.failed };
  } finally {
    await Promise.all(lg.workers.map((w) => w.stop()));
  }
}

export async function runRegionsLag(ctx: RegionsContext): Promise<Row[]> {
  const o = ctx.bench.lag;
  const phase = 'R1 lag';
  await waitCaughtUp(ctx, phase);
  const drivers = Math.round((o.rate * o.periodMs) / 1000 / o.batchPings);
  const configs = openFleetConfigs({ drivers, loadgens: o.loadgens, batchPings: o.batchPings, periodMs: o.periodMs }, [gw(ctx.a).driverUrl], ctx.jwtSecret, 'rgl', 0x12e6);
  // At least one whole period of warm-up, so every driver has sent before the window opens.
  const w = await window(ctx, phase, configs, Math.max(ctx.options.warmupS, o.periodMs / 1000));
  await waitCaughtUp(ctx, phase);
  const p50 = bucketQuantile(w.lag, 0.5);
  const p99 = bucketQuantile(w.lag, 0.99);
  ctx.progress.log(phase, `${fmtInt(w.out.ackedPingsPerS)} pings/s acked in a; lag p50 ${fmtBucketQuantile(p50)}, p99 ${fmtBucketQuantile(p99)}`);
  return [
    {
      scenario: 'R1 lag',
      figure: 'parameters',
      value: `${fmtInt(drivers)} drivers into region a's gateway from ${o.loadgens} load generators, a batch of ${o.batchPings} msgpack pings every ${o.periodMs / 1000} s each ` +
        `(${fmtInt(o.rate)} pings/s offered, open loop); b's lag histogram over the warm-up and the ${ctx.options.durationS} s window`,
    },
    { scenario: 'R1 lag', figure: 'pings/s acked in a (load generator) / records applied in b', value: `${fmtInt(w.out.ackedPingsPerS)} / ${fmtInt(w.lag.count)}` },
    { scenario: 'R1 lag', figure: 'replication lag a → b p50 (hexfleet_replication_lag_seconds, interpolated in its bucket)', value: fmtBucketQuantile(p50) },
    { scenario: 'R1 lag', figure: 'replication lag a → b p99', value: fmtBucketQuantile(p99), target: `≤ ${TARGET_P99_S} s`, met: p99.ms <= TARGET_P99_S * 1000 },
    { scenario: 'R1 lag', figure: 'replication lag a → b mean (exact)', value: `${fmtMs((w.lag.sum / w.lag.count) * 1000)} ms` },
    { scenario: 'R1 lag', figure: 'ack latency in a p50 / p99', value: `${fmtMs(w.out.latency.percentile(0.5))} / ${fmtMs(w.out.latency.percentile(0.99))} ms` },
    cpuRow('R1 lag', [w.out]),
    { scenario: 'R1 lag', figure: 'errors', value: describeErrors(w.out, w.connectFailed) },
  ];
}

/** off on, on off, off on …: each pair flips the order of the one before. */
function windowOrder(pairs: number): Mode[] {
  return Array.from({ length: pairs }, (_, i): Mode[] => (i % 2 === 0 ? ['off', 'on'] : ['on', 'off'])).flat();
}

export async function runRegionsCost(ctx: RegionsContext): Promise<Row[]> {
  const o = ctx.bench.cost;
  const mirror = ctx.b.mirror;
  if (!mirror) throw new Error('R2 cost: region b has no inbound mirror');
  const windows: { mode: Mode; out: LoadOutcome; connectFailed: number }[] = [];
  const order = windowOrder(o.pairs);
  try {
    for (const [i, mode] of order.entries()) {
      const phase = `R2 cost ${i + 1}/${order.length} replication ${mode}`;
      if (mode === 'on') {
        mirror.resume();
        await waitCaughtUp(ctx, phase);
      } else {
        mirror.pause();
      }
      const config: LoadgenConfig = {
        mode: 'closed', urls: [gw(ctx.a).driverUrl], jwtSecret: ctx.jwtSecret, first: 0, step: 1, count: o.drivers, totalDrivers: o.drivers,
        // Drivers of their own per window (a reconnecting driver would start its seqs over and be refused as duplicates).
        idTag: `${mode === 'off' ? 'f' : 'n'}${String(i).padStart(2, '0')}`,
        area: CITY_BOX, seed: 0xc0577 + i, batchPings: o.batchPings, depth: o.depth, periodMs: 0, dtS: 1, tsStepMs: 1, connectConcurrency: 50,
      };
      const w = await window(ctx, phase, [config], ctx.options.warmupS);
      ctx.progress.log(phase, `${fmtInt(w.out.ackedPingsPerS)} pings/s acked in a`);
      windows.push({ mode, out: w.out, connectFailed: w.connectFailed });
    }
  } finally {
    mirror.resume();
  }
  const of = (mode: Mode): LoadOutcome[] => windows.filter((w) => w.mode === mode).map((w) => w.out);
  const mean = (xs: LoadOutcome[], f: (x: LoadOutcome) => number): number => xs.reduce((n, x) => n + f(x), 0) / xs.length;
  const rate = (mode: Mode): number => mean(of(mode), (x) => x.ackedPingsPerS);
  const ratio = rate('on') / rate('off');
  const perMode = (mode: Mode): Row[] => [
    { scenario: `R2 replication ${mode}`, figure: 'pings/s acked in a: each window, in run order', value: of(mode).map((x) => fmtInt(x.ackedPingsPerS)).join(', ') },
    { scenario: `R2 replication ${mode}`, figure: 'mean pings/s; ack p50 / p99 (closed loop: mostly queueing)', value: `${fmtInt(rate(mode))}; ${fmtMs(mean(of(mode), (x) => x.latency.percentile(0.5)))} / ${fmtMs(mean(of(mode), (x) => x.latency.percentile(0.99)))} ms` },
    cpuRow(`R2 replication ${mode}`, of(mode)),
    { scenario: `R2 replication ${mode}`, figure: 'errors', value: [...new Set(windows.filter((w) => w.mode === mode).map((w) => describeErrors(w.out, w.connectFailed)))].join('; ') },
  ];
  return [
    {
      scenario: 'R2 cost',
      figure: 'parameters',
      value: `bench:ingest's A shape into region a: ${fmtInt(o.drivers)} drivers, batches of ${o.batchPings}, ${o.depth} in flight each (closed loop); ${o.pairs} pair(s) of windows ` +
        `in the order ${order.join(', ')}, ${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s each. Off: b's mirror SIGSTOPped; on: running, b caught up before the window`,
    },
    ...perMode('off'),
    ...perMode('on'),
    { scenario: 'R2 ratio', figure: 'ingest throughput in a, replication on ÷ off (mean pings/s)', value: ratio.toFixed(2) },
  ];
}

function cpuRow(scenario: string, outs: LoadOutcome[]): Row {
  const mean = (f: (x: LoadOutcome) => number): number => outs.reduce((n, x) => n + f(x), 0) / outs.length;
  const pct = (prefix: string): string => fmtPct(mean((x) => cpuOf(x, prefix)));
  return {
    scenario,
    figure: 'CPU, % of one core: gateway a / redis a / kafka a / mirror (a->b) / gateway b / redis b / kafka b / load generators / other processes; machine busy',
    value: `${pct('gateway-a')} / ${pct('redis-server')} / ${pct('kafka-a')} / ${pct('mirror-b')} / ${pct('gateway-b')} / ${pct('redis-b')} / ${pct('kafka-b')} / ${pct('loadgen')} / ` +
      `${fmtPct(mean((x) => x.othersPct))}; ${fmtPct(mean((x) => x.machineBusyPct))} of all cores`,
  };
}
