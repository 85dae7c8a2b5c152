/**
 * L1, ingest throughput with the event log on against off, in the same run:
 * bench:ingest's A shape (one gateway, 1,000 drivers, batches of 50, closed
 * loop, Redis) against two gateways that differ only in HEXFLEET_KAFKA_BROKERS.
 *
 *   gateway-off ──applyBatches──▶ Redis
 *   gateway-on  ──applyBatches──▶ Redis      (both at once; acked when both are done)
 *               └─append (acks=all)─▶ Kafka
 *
 * Both gateways run the whole time; windows alternate between them in
 * pairs, the order flipping each pair (off on, on off, off on …), so that a
 * drift of the machine over the run (another process, Redis growing, the
 * JIT) weighs on both sides alike, a linear drift exactly. Each window gets
 * a fresh load generator with drivers of its own (a reconnecting driver
 * would start its seqs over and be refused as duplicates).
 */
import { startBenchGateway } from '../lib/bench-gateway.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { connectLoadgens, cpuOf, describeErrors, driveLoad, type LoadOutcome } from '../lib/load-run.js';
import type { LogContext } from '../lib/log-context.js';
import type { LoadgenConfig } from '../lib/messages.js';
import { bucketQuantile, fmtBucketQuantile, histogramDelta, sumBuckets } from '../lib/prom-histogram.js';
import { cpuBound, fmtInt, fmtMs, fmtPct, type Row } from '../lib/report.js';
import { metricSum } from '../../kit/metrics-scrape.js';
import type { GatewayProcess } from '../../kit/gateway-process.js';

const PHASE = 'L1 throughput';
/** Issue figure: log on ÷ log off ≥ 0.7. */
const TARGET_RATIO = 0.7;
const TOPIC_PREFIX = 'hfbench-l1';
const SEED = 0xa11ce;
/** As scenario A: 1 s of driving per ping, ts 1 ms apart so a fast sender stays valid. */
const DT_S = 1;
const TS_STEP_MS = 1;

type Mode = 'off' | 'on';

interface Window {
  mode: Mode;
  out: LoadOutcome;
  connectFailed: number;
}

/** off on, on off, off on …: each pair flips the order of the one before. */
function windowOrder(pairs: number): Mode[] {
  return Array.from({ length: pairs }, (_, i): Mode[] => (i % 2 === 0 ? ['off', 'on'] : ['on', 'off'])).flat();
}

export async function runLogThroughput(ctx: LogContext): Promise<Row[]> {
  const o = ctx.options.throughput;
  ctx.progress.log(PHASE, 'starting a gateway without the log and one with it');
  const gateways: Record<Mode, GatewayProcess> = {
    off: await startBenchGateway('gateway-off', ctx.gatewayEnv('hfbench-l1-off'), ctx.tmpDir),
    on: await startBenchGateway('gateway-on', ctx.gatewayEnv('hfbench-l1-on', TOPIC_PREFIX), ctx.tmpDir),
  };
  const windows: Window[] = [];
  try {
    const order = windowOrder(o.pairs);
    for (const [i, mode] of order.entries()) {
      const phase = `${PHASE} ${i + 1}/${order.length} log ${mode}`;
      const gw = gateways[mode];
      const idle = gateways[mode === 'on' ? 'off' : 'on'];
      const config: LoadgenConfig = {
        mode: 'closed',
        urls: [gw.driverUrl],
        jwtSecret: ctx.jwtSecret,
        first: 0,
        step: 1,
        count: o.drivers,
        totalDrivers: o.drivers,
        // Drivers of their own per window (3 characters, as scenario A's "dra"): f00…, n01…
        idTag: `${mode === 'off' ? 'f' : 'n'}${String(i).padStart(2, '0')}`,
        area: CITY_BOX,
        seed: SEED + i,
        batchPings: o.batchPings,
        depth: o.depth,
        periodMs: 0,
        dtS: DT_S,
        tsStepMs: TS_STEP_MS,
        connectConcurrency: 50,
      };
      const lg = await connectLoadgens(ctx, phase, [config]);
      try {
        const out = await driveLoad(ctx, phase, [gw], lg.workers, ctx.options.warmupS, new Map([['kafka', ctx.kafka.pid], [idle.name, idle.pid]]));
        ctx.progress.log(phase, `${fmtInt(out.ackedPingsPerS)} pings/s acked`);
        windows.push({ mode, out, connectFailed: lg.failed });
      } finally {
        await Promise.all(lg.workers.map((w) => w.stop()));
      }
    }
  } finally {
    await Promise.all(Object.values(gateways).map((g) => g.stop()));
  }
  return rows(ctx, windows);
}

function rows(ctx: LogContext, windows: Window[]): Row[] {
  const o = ctx.options.throughput;
  const gc = ctx.gatewayConfig;
  const of = (mode: Mode): Window[] => windows.filter((w) => w.mode === mode);
  const mean = (ws: Window[], f: (w: Window) => number): number => ws.reduce((n, w) => n + f(w), 0) / ws.length;
  const rate = (mode: Mode): number => mean(of(mode), (w) => w.out.ackedPingsPerS);
  const off = rate('off');
  const on = rate('on');
  const ratio = on / off;
  const onWindows = of('on');
  const appends = sumBuckets(onWindows.map((w) => histogramDelta(w.out.scrapes.first, w.out.scrapes.end, 'hexfleet_log_append_seconds')));
  const windowS = ctx.options.durationS * onWindows.length;
  const records = onWindows.reduce(
    (n, w) => n + metricSum(w.out.scrapes.end[0]!, 'hexfleet_log_appended_records_total') - metricSum(w.out.scrapes.first[0]!, 'hexfleet_log_appended_records_total'),
    0,
  );
  const perMode = (mode: Mode): Row[] => {
    const ws = of(mode);
    const gw = `gateway-${mode}`;
    const errors = ws.map((w) => describeErrors(w.out, w.connectFailed));
    return [
      {
        scenario: `L1 log ${mode}`,
        figure: 'applied pings/s end to end (acked, load generator): each window, in run order',
        value: ws.map((w) => fmtInt(w.out.ackedPingsPerS)).join(', '),
      },
      {
        scenario: `L1 log ${mode}`,
        figure: 'mean over its windows (gateway counter hexfleet_pings_applied_total)',
        value: `${fmtInt(rate(mode))} (${fmtInt(mean(ws, (w) => w.out.gatewayAppliedPerS))})`,
      },
      {
        scenario: `L1 log ${mode}`,
        figure: 'ack latency p50 / p99 (closed loop: mostly queueing, pings in flight ÷ rate), mean of windows',
        value: `${fmtMs(mean(ws, (w) => w.out.latency.percentile(0.5)))} / ${fmtMs(mean(ws, (w) => w.out.latency.percentile(0.99)))} ms`,
      },
      {
        scenario: `L1 log ${mode}`,
        figure: 'CPU: gateway / Redis / Kafka / load generator / other processes (% of one core, mean of windows); machine busy',
        value:
          `${fmtPct(mean(ws, (w) => w.out.cpu.get(gw) ?? NaN))} / ${fmtPct(mean(ws, (w) => cpuOf(w.out, 'redis-server')))} / ` +
          `${fmtPct(mean(ws, (w) => cpuOf(w.out, 'kafka')))} / ${fmtPct(mean(ws, (w) => cpuOf(w.out, 'loadgen')))} / ${fmtPct(mean(ws, (w) => w.out.othersPct))}; ` +
          `${fmtPct(mean(ws, (w) => w.out.machineBusyPct))} of all cores`,
      },
      { scenario: `L1 log ${mode}`, figure: 'CPU-bound processes (each window)', value: [...new Set(ws.map((w) => cpuBound(w.out.cpu)))].join('; ') },
      { scenario: `L1 log ${mode}`, figure: 'errors', value: [...new Set(errors)].join('; ') },
    ];
  };
  return [
    {
      scenario: 'L1 throughput',
      figure: 'parameters',
      value:
        `bench:ingest's A shape twice: ${fmtInt(o.drivers)} drivers, one WebSocket each, from 1 load generator process; batches of ${o.batchPings} msgpack pings; ` +
        `closed loop with ${o.depth} batches in flight per driver; 1 gateway process; gateway flushes up to ${fmtInt(gc.ingestFlushPings)} pings per Lua call, ` +
        `${gc.ingestMaxInflight} calls in flight. Log off: no HEXFLEET_KAFKA_BROKERS; log on: HEXFLEET_KAFKA_BROKERS set (one positions record per batch, acks=all, ` +
        `${gc.kafkaPartitions} partitions), the ack waits for Redis and Kafka. ${o.pairs} pair(s) of windows in the order ${windowOrder(o.pairs).join(', ')}, ` +
        `each with a fresh load generator and drivers: ${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured`,
    },
    ...perMode('off'),
    ...perMode('on'),
    {
      scenario: 'L1 log on',
      figure: 'log appends (hexfleet_log_append_seconds): p50 / p99 estimated from the histogram\'s buckets; mean (exact)',
      value:
        `${fmtBucketQuantile(bucketQuantile(appends, 0.5))} / ${fmtBucketQuantile(bucketQuantile(appends, 0.99))}; ` +
        `${fmtMs((appends.sum / appends.count) * 1000)} ms`,
    },
    {
      scenario: 'L1 log on',
      figure: 'appends/s, records per append, records/s',
      value: `${fmtInt(appends.count / windowS)}, ${fmtInt(records / appends.count)}, ${fmtInt(records / windowS)}`,
    },
    {
      scenario: 'L1 ratio',
      figure: 'log on ÷ log off (mean pings/s)',
      value: ratio.toFixed(2),
      target: `≥ ${TARGET_RATIO}`,
      met: ratio >= TARGET_RATIO,
    },
  ];
}

