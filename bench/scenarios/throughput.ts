/**
 * Scenario A, throughput: how many pings/s one gateway applies end to end
 * with batches of 50, against the ceiling of its store's write path alone,
 * measured in the same run on the same Redis.
 *
 *   end to end: loadgen ──ws/msgpack──▶ gateway ──1 Lua call / flush──▶ Redis
 *   ceiling:    ceiling-worker ──RedisDriverStore.applyBatches──────▶ Redis
 */
import { type Message, Worker } from '../lib/worker.js';
import { nowMs, sleepUntil } from '../lib/clock.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import type { IngestContext } from '../lib/ingest-context.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { Histogram } from '../lib/histogram.js';
import { connectLoadgens, cpuOf, describeErrors, driveLoad, type LoadOutcome } from '../lib/load-run.js';
import type { CeilingConfig, CeilingResult, LoadgenConfig } from '../lib/messages.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { cpuBound, fmtInt, fmtMB, fmtMs, fmtPct, type Row } from '../lib/report.js';

const PHASE = 'A throughput';
const CEILING = 'A ceiling';
/** The 150,000 pings/s target of issue 2 (a naive one-call-per-frame gateway reached ~60,000). */
const TARGET_PINGS_PER_S = 150_000;
const TARGET_RATIO = 0.75;
/** Seed shared by both runs so they move the same drivers the same way. */
const SEED = 0xa11ce;
/** One ping = 1 s of driving (a phone's fix rate); ts are 1 ms apart so a fast sender stays valid. */
const DT_S = 1;
const TS_STEP_MS = 1;

export async function runThroughput(ctx: IngestContext): Promise<Row[]> {
  const o = ctx.options.throughput;
  const e2e = await endToEnd(ctx);
  const ceiling = await redisCeiling(ctx);
  const gc = ctx.gatewayConfig;
  const ratio = e2e.out.ackedPingsPerS / ceiling.pingsPerS;
  const rss = [...e2e.out.gatewayRss.values()][0]!;
  return [
    {
      scenario: 'A throughput',
      figure: 'parameters',
      value:
        `${fmtInt(o.drivers)} drivers, one WebSocket each, from ${o.loadgens} load generator process; batches of ${o.batchPings} msgpack pings; ` +
        `closed loop with ${o.depth} batches in flight per driver; 1 gateway process; ${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured; ` +
        `gateway flushes up to ${fmtInt(gc.ingestFlushPings)} pings per Lua call, ${gc.ingestMaxInflight} calls in flight; ` +
        `drivers move at 0–20 m/s in a 30×30 km box (Berlin), 1 s of driving per ping`,
    },
    {
      scenario: 'A throughput',
      figure: 'applied pings/s end to end (acked, counted by the load generator)',
      value: fmtInt(e2e.out.ackedPingsPerS),
      target: `≥ ${fmtInt(TARGET_PINGS_PER_S)}`,
      met: e2e.out.ackedPingsPerS >= TARGET_PINGS_PER_S,
    },
    {
      scenario: 'A throughput',
      figure: 'applied pings/s (gateway counter hexfleet_pings_applied_total)',
      value: fmtInt(e2e.out.gatewayAppliedPerS),
    },
    {
      scenario: 'A throughput',
      figure: 'ack latency p50 / p99 / p99.9 (send → ack; closed loop, so mostly queueing: pings in flight ÷ rate)',
      value: `${fmtMs(e2e.out.latency.percentile(0.5))} / ${fmtMs(e2e.out.latency.percentile(0.99))} / ${fmtMs(e2e.out.latency.percentile(0.999))} ms`,
    },
    { scenario: 'A throughput', figure: 'errors', value: describeErrors(e2e.out, e2e.connectFailed) },
    {
      scenario: 'A throughput',
      figure: 'mean pings per Lua call (gateway, hexfleet_store_write_pings)',
      value: fmtInt(e2e.out.meanStoreWritePings),
    },
    {
      scenario: 'A throughput',
      figure: 'gateway CPU / RSS at the end (peak)',
      value: `${fmtPct(cpuOf(e2e.out, 'gateway'))} of one core / ${fmtMB(rss.rss)} (${fmtMB(rss.peak)})`,
    },
    {
      scenario: 'A throughput',
      figure: 'CPU: Redis / load generator / other processes (% of one core); machine busy',
      value:
        `${fmtPct(cpuOf(e2e.out, 'redis-server'))} / ${fmtPct(cpuOf(e2e.out, 'loadgen'))} / ${fmtPct(e2e.out.othersPct)}; ` +
        `${fmtPct(e2e.out.machineBusyPct)} of all cores`,
    },
    { scenario: 'A throughput', figure: 'CPU-bound processes', value: cpuBound(e2e.out.cpu) },
    {
      scenario: 'A ceiling',
      figure: 'parameters',
      value:
        `RedisDriverStore.applyBatches driven directly from 1 process (no gateway, no WebSocket), same Redis; ` +
        `the same ${fmtInt(o.drivers)} drivers, batches of ${o.batchPings}, ${ceiling.batchesPerCall} driver batches ` +
        `(${fmtInt(ceiling.batchesPerCall * o.batchPings)} pings) per Lua call as the gateway's ${fmtInt(gc.ingestFlushPings)}-ping flush limit allows, ` +
        `${o.ceilingInflight} calls in flight; same warm-up and window`,
    },
    { scenario: 'A ceiling', figure: 'Redis-only ceiling, applied pings/s', value: fmtInt(ceiling.pingsPerS) },
    {
      scenario: 'A ceiling',
      figure: 'Lua call latency p50 / p99',
      value: `${fmtMs(ceiling.callLatency.percentile(0.5))} / ${fmtMs(ceiling.callLatency.percentile(0.99))} ms`,
    },
    {
      scenario: 'A ceiling',
      figure: 'CPU: Redis / ceiling process / other processes (% of one core); machine busy',
      value:
        `${fmtPct(ceiling.redisCpu)} / ${fmtPct(ceiling.workerCpu)} / ${fmtPct(ceiling.othersPct)}; ` +
        `${fmtPct(ceiling.machineBusyPct)} of all cores`,
    },
    { scenario: 'A ceiling', figure: 'CPU-bound processes', value: cpuBound(ceiling.cpu) },
    {
      scenario: 'A ratio',
      figure: 'end to end ÷ Redis-only ceiling',
      value: ratio.toFixed(2),
      target: `≥ ${TARGET_RATIO}`,
      met: ratio >= TARGET_RATIO,
    },
  ];
}

async function endToEnd(ctx: IngestContext): Promise<{ out: LoadOutcome; connectFailed: number }> {
  const o = ctx.options.throughput;
  ctx.progress.log(PHASE, 'starting the gateway');
  const gw = await startBenchGateway('gateway', ctx.gatewayEnv('hfbench-a'), ctx.tmpDir);
  let loadgens: Worker[] = [];
  try {
    const configs: LoadgenConfig[] = Array.from({ length: o.loadgens }, (_, p) => ({
      mode: 'closed',
      urls: [gw.driverUrl],
      jwtSecret: ctx.jwtSecret,
      first: p,
      step: o.loadgens,
      count: Math.ceil((o.drivers - p) / o.loadgens),
      totalDrivers: o.drivers,
      idTag: 'dra',
      area: CITY_BOX,
      seed: SEED,
      batchPings: o.batchPings,
      depth: o.depth,
      periodMs: 0,
      dtS: DT_S,
      tsStepMs: TS_STEP_MS,
      connectConcurrency: 50,
    }));
    const lg = await connectLoadgens(ctx, PHASE, configs);
    loadgens = lg.workers;
    const out = await driveLoad(ctx, PHASE, [gw], loadgens);
    ctx.progress.log(PHASE, `${fmtInt(out.ackedPingsPerS)} pings/s acked, p99 ${fmtMs(out.latency.percentile(0.99))} ms`);
    return { out, connectFailed: lg.failed };
  } finally {
    await Promise.all(loadgens.map((w) => w.stop()));
    await gw.stop();
  }
}

interface CeilingOutcome {
  pingsPerS: number;
  batchesPerCall: number;
  callLatency: Histogram;
  redisCpu: number;
  workerCpu: number;
  machineBusyPct: number;
  othersPct: number;
  cpu: Map<string, number>;
}

async function redisCeiling(ctx: IngestContext): Promise<CeilingOutcome> {
  const o = ctx.options.throughput;
  // What the gateway's flush can put in one call: whole frames up to the ping limit.
  const batchesPerCall = Math.max(1, Math.floor(ctx.gatewayConfig.ingestFlushPings / o.batchPings));
  ctx.progress.log(CEILING, `driving RedisDriverStore.applyBatches directly: ${batchesPerCall} batches per call, ${o.ceilingInflight} in flight`);
  const w = new Worker('ceiling', 'ceiling-worker.js');
  try {
    const config: CeilingConfig = {
      type: 'config',
      redisUrl: ctx.redis.url,
      prefix: 'hfbench-ceiling',
      h3Resolution: ctx.gatewayConfig.h3Resolution,
      drivers: o.drivers,
      idTag: 'dra',
      area: CITY_BOX,
      seed: SEED,
      batchPings: o.batchPings,
      batchesPerCall,
      inflight: o.ceilingInflight,
      dtS: DT_S,
      tsStepMs: TS_STEP_MS,
    };
    w.send(config);
    await w.next('ready', 30_000);
    await awaitQuietMachine(ctx, CEILING, new Map([['ceiling', w.pid]]));
    const startAt = nowMs() + 200;
    const from = startAt + ctx.options.warmupS * 1000;
    const to = from + ctx.options.durationS * 1000;
    w.send({ type: 'go', startAt, measureFrom: from, measureTo: to } as Message);
    await sleepUntil(from);
    const cpu = new CpuWindow(new Map([['redis-server', ctx.redis.pid], ['ceiling', w.pid], ['bench', process.pid]]));
    ctx.progress.log(CEILING, `measuring ${ctx.options.durationS} s`);
    await sleepUntil(to);
    const c = cpu.end();
    const r = await w.next<CeilingResult>('result', 60_000);
    const pingsPerS = r.windowApplied / ctx.options.durationS;
    ctx.progress.log(CEILING, `${fmtInt(pingsPerS)} pings/s applied${r.duplicates ? `, ${fmtInt(r.duplicates)} duplicates (unexpected)` : ''}`);
    return {
      pingsPerS,
      batchesPerCall,
      callLatency: Histogram.fromJSON(r.callLatency),
      redisCpu: c.perProcess.get('redis-server') ?? NaN,
      workerCpu: c.perProcess.get('ceiling') ?? NaN,
      machineBusyPct: c.machineBusyPct,
      othersPct: c.othersPct,
      cpu: c.perProcess,
    };
  } finally {
    await w.stop();
  }
}
