/**
 * Ingest on one Redis against the Cluster, same machine, same run: the
 * store's write path (DriverStore.applyBatches, the call a gateway's flush
 * makes) driven by writer processes with bench:ingest's ceiling shape, once
 * per configuration and round:
 *
 *   writer ×W ──applyBatches(81 drivers × 50 pings)──▶ one redis-server
 *   writer ×W ──applyBatches──▶ ClusterDriverStore ──1 applyPings.lua per area──▶ 3 primaries (+ replicas)
 *
 * No gateway: a gateway is one Node process per core whatever the store
 * (bench:ingest A), and would cap every configuration alike.
 */
import { CITY_BOX } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import { fmtInt, fmtMs, fmtPct, type Row } from '../lib/report.js';
import { type Message, Worker } from '../lib/worker.js';
import type { WriterConfig, WriterResult } from '../workers/cluster-messages.js';
import type { ClusterContext, IngestMeasure, Target } from './cluster-context.js';
import { describeErrors, emptyUsage, groupCpuS, measureWindow, servingCpuS, windowNote } from './cluster-window.js';

const PHASE = 'ingest';
/** Writer i drives the same drivers the same way in every configuration. */
const SEED = 0xc105e;
/** One ping = 1 s of driving; ts 1 ms apart (bench:ingest's A). */
const DT_S = 1;
const TS_STEP_MS = 1;
/** Time for a writer to open its store and build its drivers. */
const READY_TIMEOUT_MS = 60_000;

export async function runClusterIngest(ctx: ClusterContext): Promise<Row[]> {
  const o = ctx.options.ingest;
  const writers = new Map<Target['key'], Worker[]>();
  try {
    for (const t of ctx.targets) {
      ctx.progress.log(PHASE, `${t.label}: starting ${o.writers} writer process(es)`);
      const ws = Array.from({ length: o.writers }, (_, i) => new Worker(`writer ${t.key}-${i + 1}`, 'cluster-writer.js'));
      writers.set(t.key, ws);
      ws.forEach((w, i) => {
        const config: WriterConfig = {
          type: 'config', redisUrl: t.redisUrl, engine: t.engine, prefix: `hfc-${t.key}-w`, h3Resolution: 9,
          drivers: o.driversPerWriter, idTag: `w${t.key}${i}x`, area: CITY_BOX, seed: SEED + i * 1_000_003,
          batchPings: o.batchPings, batchesPerCall: o.batchesPerCall, inflight: o.inflight, dtS: DT_S, tsStepMs: TS_STEP_MS,
        };
        w.send(config);
      });
      await Promise.all(ws.map((w) => w.next('ready', READY_TIMEOUT_MS)));
    }
    for (let round = 0; round < ctx.options.rounds; round++) {
      const order = round % 2 === 0 ? ctx.targets : [...ctx.targets].reverse();
      for (const t of order) {
        const phase = `${PHASE} round ${round + 1}/${ctx.options.rounds}, ${t.label}`;
        ctx.progress.log(phase, `${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured`);
        const m = measureOf(ctx, t);
        const { results, window } = await measureWindow<WriterResult>(ctx, phase, writers.get(t.key)!, (w) => ({ type: 'go', ...w }) as Message, m.usage);
        const before = m.pings;
        for (const r of results) {
          m.pings += r.windowApplied;
          m.calls += r.windowCalls;
          m.duplicates += r.duplicates;
          m.failedBatches += r.failedBatches;
          m.moves += r.moves;
          for (const [k, n] of Object.entries(r.errors)) m.errors[k] = (m.errors[k] ?? 0) + n;
          m.latency.merge(Histogram.fromJSON(r.callLatency));
        }
        m.perWindow.push((m.pings - before) / ctx.options.durationS);
        m.windowNotes.push(windowNote(window, m.pings - before));
        ctx.progress.log(phase, `${fmtInt(m.perWindow[m.perWindow.length - 1]!)} pings/s stored, call p99 ${fmtMs(m.latency.percentile(0.99))} ms; ${m.windowNotes[m.windowNotes.length - 1]}`);
      }
    }
  } finally {
    await Promise.all([...writers.values()].flat().map((w) => w.stop()));
  }
  return rows(ctx);
}

function measureOf(ctx: ClusterContext, t: Target): IngestMeasure {
  let m = ctx.measured.ingest.get(t.key);
  if (!m) {
    m = { usage: emptyUsage(), pings: 0, calls: 0, duplicates: 0, failedBatches: 0, moves: 0, errors: {}, latency: new Histogram(), perWindow: [], windowNotes: [] };
    ctx.measured.ingest.set(t.key, m);
  }
  return m;
}

/** Pings/s over every window of a configuration. */
export const ingestRate = (ctx: ClusterContext, m: IngestMeasure): number => m.pings / (m.perWindow.length * ctx.options.durationS);

function rows(ctx: ClusterContext): Row[] {
  const o = ctx.options.ingest;
  const out: Row[] = [{
    scenario: 'ingest',
    figure: 'parameters',
    value:
      `DriverStore.applyBatches driven directly (no gateway, no WebSocket) from ${o.writers} writer process(es) per configuration, ` +
      `${fmtInt(o.driversPerWriter)} drivers each (their own ids), batches of ${o.batchPings} pings, ${o.batchesPerCall} driver batches ` +
      `(${fmtInt(o.batchesPerCall * o.batchPings)} pings) per call as a gateway's 4,096-ping flush, ${o.inflight} calls in flight per writer; ` +
      `drivers move at 0–20 m/s in the 30×30 km box around Berlin, 1 s of driving per ping; ${ctx.options.rounds} round(s) of ` +
      `${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured per configuration, round 2 in reverse order`,
  }];
  for (const t of ctx.targets) {
    const m = ctx.measured.ingest.get(t.key);
    if (!m) continue;
    const u = m.usage;
    const pct = (s: number): string => fmtPct((s / u.seconds) * 100);
    const shards = servingCpuS(ctx, u, t);
    const scriptsByNode = shards.map(([name]) => u.scripts.get(name) ?? 0);
    const scripts = scriptsByNode.reduce((a, b) => a + b, 0);
    const waits = shards.reduce((n, [name]) => n + (u.waits.get(name) ?? 0), 0);
    const scenario = `ingest: ${t.label}`;
    out.push(
      { scenario, figure: 'configuration', value: t.description },
      { scenario, figure: 'pings/s stored, each window in run order (its other processes, our CPU per 1,000); over all windows', value: `${m.perWindow.map((r, i) => `${fmtInt(r)} (${m.windowNotes[i]})`).join(', ')}; ${fmtInt(ingestRate(ctx, m))}` },
      {
        scenario,
        figure: 'applyBatches call (= what a gateway flush waits before acking) p50 / p99 / p99.9; closed loop, so mostly queueing',
        value: `${fmtMs(m.latency.percentile(0.5))} / ${fmtMs(m.latency.percentile(0.99))} / ${fmtMs(m.latency.percentile(0.999))} ms`,
      },
      {
        scenario,
        figure: 'Lua script calls (and WAITs) per applyBatches call; share of the scripts by serving node',
        value: `${(scripts / m.calls).toFixed(1)} (${(waits / m.calls).toFixed(1)}); ${shards.map(([name], i) => `${name} ${fmtPct((100 * scriptsByNode[i]!) / scripts)}`).join(', ')}`,
      },
      {
        scenario,
        figure: 'CPU, % of one core: serving Redis (each) / replicas / writers / idle nodes of the other topology / other processes; machine busy',
        value:
          `${shards.map(([name, s]) => `${name} ${pct(s)}`).join(', ')} / ${t.cluster ? pct(groupCpuS(ctx, u, t, 'replicas')) : 'none'} / ` +
          `${pct(groupCpuS(ctx, u, t, 'client'))} / ${pct(groupCpuS(ctx, u, t, 'idle nodes'))} / ${pct(u.othersS)}; ` +
          `${fmtPct((u.busyS / u.seconds / ctx.cpus) * 100)} of all cores`,
      },
      {
        scenario,
        figure: 'duplicates / batches failed (not acked) / moves to another area (per 1,000 pings; a ping is 1 s of driving) / errors',
        value: `${fmtInt(m.duplicates)} / ${fmtInt(m.failedBatches)} / ${fmtInt(m.moves)} (${((1000 * m.moves) / m.pings).toFixed(2)}) / ${describeErrors(m.errors)}`,
      },
    );
  }
  const rate = (k: Target['key']): number => {
    const m = ctx.measured.ingest.get(k);
    return m ? ingestRate(ctx, m) : NaN;
  };
  out.push(
    { scenario: 'ingest ratio', figure: 'Cluster area res 3 ÷ one Redis (pings/s)', value: (rate('c3') / rate('one')).toFixed(2) },
    { scenario: 'ingest ratio', figure: 'Cluster area res 6 ÷ one Redis (pings/s)', value: (rate('c6') / rate('one')).toFixed(2) },
  );
  if (ctx.measured.ingest.has('c3ack1')) {
    out.push({ scenario: 'ingest ratio', figure: 'Cluster area res 3, MIN_REPLICAS_ACK 1 ÷ 0 (pings/s)', value: (rate('c3ack1') / rate('c3')).toFixed(2) });
  }
  return out;
}
