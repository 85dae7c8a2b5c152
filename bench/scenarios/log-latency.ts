/**
 * L2, ack latency with the event log on: bench:ingest's B shape (20,000
 * drivers, a batch of 4 pings every 4 s each, 20,000 pings/s, open loop,
 * 2 gateways on one Redis) with HEXFLEET_KAFKA_BROKERS set, and the same
 * without it in the same run as the baseline (log off first, then on; each
 * with gateways, load generators and drivers of its own).
 *
 *   loadgen-1..4 ──▶ gateway-1, gateway-2 ──▶ Redis
 *                                └── (log on) ──▶ Kafka, acks=all; the ack waits for both
 */
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { metricSum } from '../../kit/metrics-scrape.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { connectLoadgens, cpuOf, describeErrors, driveLoad, openFleetConfigs, type LoadOutcome } from '../lib/load-run.js';
import type { LogContext } from '../lib/log-context.js';
import { bucketQuantile, fmtBucketQuantile, histogramDelta } from '../lib/prom-histogram.js';
import { cpuBound, fmtInt, fmtMs, fmtPct, type Row } from '../lib/report.js';
import type { Worker } from '../lib/worker.js';

const PHASE = 'L2 latency';
/** Issue figure: ack p99 ≤ 30 ms at 20,000 pings/s from 20,000 drivers with the log on. */
const TARGET_P99_MS = 30;
const TOPIC_PREFIX = 'hfbench-l2';
const SEED = 0xb0b;

type Mode = 'off' | 'on';

interface Outcome {
  out: LoadOutcome;
  connectFailed: number;
  warmupS: number;
}

export async function runLogLatency(ctx: LogContext): Promise<Row[]> {
  const off = await measure(ctx, 'off');
  const on = await measure(ctx, 'on');
  return [...describe(ctx, 'off', off), ...describe(ctx, 'on', on)];
}

async function measure(ctx: LogContext, mode: Mode): Promise<Outcome> {
  const o = ctx.options.latency;
  const phase = `${PHASE} log ${mode}`;
  const gateways: GatewayProcess[] = [];
  let loadgens: Worker[] = [];
  try {
    ctx.progress.log(phase, `starting ${o.gateways} gateways on one Redis${mode === 'on' ? ', both logging to Kafka' : ''}`);
    for (let i = 1; i <= o.gateways; i++) {
      const env = mode === 'on' ? ctx.gatewayEnv('hfbench-l2-on', TOPIC_PREFIX) : ctx.gatewayEnv('hfbench-l2-off');
      gateways.push(await startBenchGateway(`gateway-${mode}-${i}`, env, ctx.tmpDir));
    }
    const configs = openFleetConfigs(o, gateways.map((g) => g.driverUrl), ctx.jwtSecret, mode === 'off' ? 'lbf' : 'lbn', SEED);
    const lg = await connectLoadgens(ctx, phase, configs);
    loadgens = lg.workers;
    // At least one whole period of warm-up, so every driver has sent before the window opens.
    const warmupS = Math.max(ctx.options.warmupS, o.periodMs / 1000);
    const out = await driveLoad(ctx, phase, gateways, loadgens, warmupS, new Map([['kafka', ctx.kafka.pid]]));
    ctx.progress.log(phase, `${fmtInt(out.ackedPingsPerS)} pings/s acked, p99 ${fmtMs(out.latency.percentile(0.99))} ms`);
    return { out, connectFailed: lg.failed, warmupS };
  } finally {
    await Promise.all(loadgens.map((w) => w.stop()));
    await Promise.all(gateways.map((g) => g.stop()));
  }
}

function describe(ctx: LogContext, mode: Mode, { out, connectFailed, warmupS }: Outcome): Row[] {
  const o = ctx.options.latency;
  const scenario = `L2 log ${mode}`;
  const p99 = out.latency.percentile(0.99);
  const rows: Row[] = [];
  if (mode === 'off') {
    rows.push({
      scenario: 'L2 latency',
      figure: 'parameters',
      value:
        `bench:ingest's B shape: ${fmtInt(o.drivers)} drivers, one WebSocket each, over ${o.loadgens} load generator processes and ${o.gateways} gateway processes ` +
        `sharing one Redis; each driver sends a batch of ${o.batchPings} msgpack pings every ${o.periodMs / 1000} s ` +
        `(${fmtInt((o.drivers * o.batchPings * 1000) / o.periodMs)} pings/s, ${fmtInt((o.drivers * 1000) / o.periodMs)} frames/s), open loop on a fixed schedule, ` +
        `latency from the scheduled send time; ${warmupS} s warm-up + ${ctx.options.durationS} s measured. Log off first, then log on ` +
        `(HEXFLEET_KAFKA_BROKERS set on both gateways, acks=all), each with gateways, load generators and drivers of its own`,
    });
  }
  rows.push(
    { scenario, figure: 'achieved pings/s (acked, load generators)', value: fmtInt(out.ackedPingsPerS) },
    {
      scenario,
      figure: 'ack latency p50 / p99 / p99.9 (scheduled send → ack)',
      value: `${fmtMs(out.latency.percentile(0.5))} / ${fmtMs(p99)} / ${fmtMs(out.latency.percentile(0.999))} ms (max ${fmtMs(out.latency.maxMs)} ms, ${fmtInt(out.latency.count)} batches)`,
      ...(mode === 'on' ? { target: `p99 ≤ ${TARGET_P99_MS} ms`, met: p99 <= TARGET_P99_MS } : {}),
    },
    {
      scenario,
      figure: 'load generator send lag p99 / max (how late it sent; included above)',
      value: `${fmtMs(out.sendLag.percentile(0.99))} / ${fmtMs(out.sendLag.maxMs)} ms`,
    },
    { scenario, figure: 'errors by code', value: describeErrors(out, connectFailed) },
  );
  if (mode === 'on') {
    const appends = histogramDelta(out.scrapes.first, out.scrapes.end, 'hexfleet_log_append_seconds');
    const records = out.scrapes.end.reduce((n, s, i) => n + metricSum(s, 'hexfleet_log_appended_records_total') - metricSum(out.scrapes.first[i]!, 'hexfleet_log_appended_records_total'), 0);
    rows.push({
      scenario,
      figure: 'log appends, both gateways: p50 / p99 from the histogram\'s buckets; mean (exact); appends/s, records per append',
      value:
        `${fmtBucketQuantile(bucketQuantile(appends, 0.5))} / ${fmtBucketQuantile(bucketQuantile(appends, 0.99))}; ${fmtMs((appends.sum / appends.count) * 1000)} ms; ` +
        `${fmtInt(appends.count / out.windowS)}/s, ${(records / appends.count).toFixed(1)}`,
    });
  }
  rows.push(
    {
      scenario,
      figure: 'CPU: gateways / Redis / Kafka / load generators / other processes (% of one core); machine busy',
      value:
        `${[...out.cpu].filter(([n]) => n.startsWith('gateway')).map(([, pct]) => fmtPct(pct)).join(' + ')} / ${fmtPct(cpuOf(out, 'redis-server'))} / ` +
        `${fmtPct(cpuOf(out, 'kafka'))} / ${fmtPct(cpuOf(out, 'loadgen'))} (all ${o.loadgens}) / ${fmtPct(out.othersPct)}; ${fmtPct(out.machineBusyPct)} of all cores`,
    },
    { scenario, figure: 'CPU-bound processes', value: cpuBound(out.cpu) },
  );
  return rows;
}
