import type { GatewayProcess } from '../../kit/gateway-process.js';
import { metricSum, type Scrape } from '../../kit/metrics-scrape.js';
import { awaitQuietMachine, type QuietContext } from './quiet-machine.js';
import { type Message, Worker } from './worker.js';
import { nowMs, sleep, sleepUntil } from './clock.js';
import { Histogram } from './histogram.js';
import type { LoadgenConfig, LoadgenConnected, LoadgenResult } from './messages.js';
import { CITY_BOX } from './driver-sim.js';
import { CpuWindow, statusBytes } from './proc-stats.js';
import { fmtInt } from './report.js';

/** Time allowed for a load generator to mint tokens and open its connections. */
const CONNECT_TIMEOUT_MS = 300_000;
/** Time allowed after the window for the drain (10 s in the worker) and the report. */
const RESULT_TIMEOUT_MS = 60_000;
/** A live progress line every this often while measuring. */
const PROGRESS_MS = 5000;

/** What a load run needs of its scenario's context (bench:ingest's and bench:log's have it). */
export type LoadRunContext = QuietContext & { options: QuietContext['options'] & { warmupS: number; durationS: number } };

export interface Loadgens {
  workers: Worker[];
  connected: number;
  failed: number;
  firstError: string | undefined;
}

/** Forks one load generator per config and waits until all have connected their drivers. */
export async function connectLoadgens(ctx: LoadRunContext, phase: string, configs: LoadgenConfig[]): Promise<Loadgens> {
  const workers = configs.map((_, i) => new Worker(`loadgen-${i + 1}`, 'loadgen-worker.js'));
  const total = configs.reduce((n, c) => n + c.count, 0);
  ctx.progress.log(phase, `connecting ${fmtInt(total)} drivers from ${workers.length} load generator process(es)`);
  workers.forEach((w, i) => w.send({ type: 'config', config: configs[i] } as Message));
  const replies = await Promise.all(workers.map((w) => w.next<LoadgenConnected>('connected', CONNECT_TIMEOUT_MS)));
  const connected = replies.reduce((n, r) => n + r.connected, 0);
  const failed = replies.reduce((n, r) => n + r.failed, 0);
  const firstError = replies.find((r) => r.firstError)?.firstError;
  ctx.progress.log(phase, `${fmtInt(connected)} drivers connected` + (failed ? `, ${fmtInt(failed)} failed (${firstError})` : ''));
  if (connected === 0) throw new Error(`no driver could connect: ${firstError}`);
  return { workers, connected, failed, firstError };
}

export interface LoadOutcome {
  windowS: number;
  ackedPingsPerS: number;
  ackedFramesPerS: number;
  latency: Histogram;
  sendLag: Histogram;
  errors: Record<string, number>;
  unmatched: number;
  unanswered: number;
  unexpectedCloses: number;
  sentPings: number;
  ackedPings: number;
  /** Σ over gateways of the hexfleet_pings_applied_total rate over the window. */
  gatewayAppliedPerS: number;
  gatewayRejected: number;
  /** Mean pings per store write in the window (hexfleet_store_write_pings). */
  meanStoreWritePings: number;
  /** % of one core, by process name (gateways, redis-server, loadgens). */
  cpu: Map<string, number>;
  machineBusyPct: number;
  /** CPU of processes outside the benchmark during the window, % of one core. */
  othersPct: number;
  gatewayRss: Map<string, { rss: number; peak: number }>;
  /** Each gateway's /metrics at the window's start and end (for histograms a caller reads itself). */
  scrapes: { first: Scrape[]; end: Scrape[] };
}

/**
 * Runs the load: `go` to every load generator, warm-up, then the measured
 * window, sampling gateway counters and /proc CPU at its edges, then collects
 * each generator's result (after its drain) and merges them. `alsoWatch`:
 * other processes of the run (a Kafka broker, an idle gateway) whose CPU is
 * reported by name instead of as "other processes".
 */
export async function driveLoad(
  ctx: LoadRunContext,
  phase: string,
  gateways: GatewayProcess[],
  loadgens: Worker[],
  warmupS = ctx.options.warmupS,
  alsoWatch: ReadonlyMap<string, number> = new Map(),
): Promise<LoadOutcome> {
  const { durationS } = ctx.options;
  await awaitQuietMachine(ctx, phase, new Map([
    ...gateways.map((g): [string, number] => [g.name, g.pid]),
    ...loadgens.map((w): [string, number] => [w.name, w.pid]),
    ...alsoWatch,
  ]));
  // 500 ms: time for the go message to reach every generator before the start.
  const startAt = nowMs() + 500;
  const from = startAt + warmupS * 1000;
  const to = from + durationS * 1000;
  for (const w of loadgens) w.send({ type: 'go', startAt, measureFrom: from, measureTo: to } as Message);
  ctx.progress.log(phase, `load running: ${warmupS} s warm-up, then ${durationS} s measured`);

  await sleepUntil(from);
  const pids = new Map<string, number>([
    ...gateways.map((g): [string, number] => [g.name, g.pid]),
    ['redis-server', ctx.redis.pid],
    ...loadgens.map((w): [string, number] => [w.name, w.pid]),
    ...alsoWatch,
    ['bench', process.pid],
  ]);
  const cpu = new CpuWindow(pids);
  const first = await scrapeAll(gateways);
  let last = first;
  for (;;) {
    const left = to - nowMs();
    if (left < PROGRESS_MS / 2) break;
    await sleep(Math.min(PROGRESS_MS, left - PROGRESS_MS / 4));
    const now = await scrapeAll(gateways);
    const elapsed = Math.round((nowMs() - from) / 1000);
    ctx.progress.log(phase, `measuring ${elapsed}/${durationS} s: gateways applied ${fmtInt(appliedRate(last, now))} pings/s`);
    last = now;
  }
  await sleepUntil(to);
  const cpuOut = cpu.end();
  const gatewayRss = new Map(gateways.map((g) => [g.name, { rss: statusBytes(g.pid, 'VmRSS'), peak: statusBytes(g.pid, 'VmHWM') }]));
  const end = await scrapeAll(gateways);
  ctx.progress.log(phase, 'window closed; draining replies in flight');

  const results = await Promise.all(loadgens.map((w) => w.next<LoadgenResult>('result', RESULT_TIMEOUT_MS)));
  for (const g of gateways) g.assertAlive();
  const latency = new Histogram();
  const sendLag = new Histogram();
  const errors: Record<string, number> = {};
  const sum = (k: 'windowAckedPings' | 'windowAckedFrames' | 'unmatched' | 'unanswered' | 'unexpectedCloses' | 'sentPings' | 'ackedPings'): number =>
    results.reduce((n, r) => n + r[k], 0);
  for (const r of results) {
    latency.merge(Histogram.fromJSON(r.latency));
    sendLag.merge(Histogram.fromJSON(r.sendLag));
    for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  }
  const windowS = durationS;
  const delta = (name: string): number => end.reduce((n, s, i) => n + metricSum(s, name) - metricSum(first[i]!, name), 0);
  return {
    windowS,
    ackedPingsPerS: sum('windowAckedPings') / windowS,
    ackedFramesPerS: sum('windowAckedFrames') / windowS,
    latency,
    sendLag,
    errors,
    unmatched: sum('unmatched'),
    unanswered: sum('unanswered'),
    unexpectedCloses: sum('unexpectedCloses'),
    sentPings: sum('sentPings'),
    ackedPings: sum('ackedPings'),
    gatewayAppliedPerS: appliedRate(first, end),
    gatewayRejected: delta('hexfleet_pings_rejected_total'),
    meanStoreWritePings: delta('hexfleet_store_write_pings_sum') / delta('hexfleet_store_write_pings_count'),
    cpu: cpuOut.perProcess,
    machineBusyPct: cpuOut.machineBusyPct,
    othersPct: cpuOut.othersPct,
    gatewayRss,
    scrapes: { first, end },
  };
}

function scrapeAll(gateways: GatewayProcess[]): Promise<Scrape[]> {
  return Promise.all(gateways.map((g) => g.scrape()));
}

/** Σ over gateways of the applied counter's rate between two scrapes of each. */
function appliedRate(a: Scrape[], b: Scrape[]): number {
  return b.reduce((n, s, i) => {
    const p = a[i]!;
    return n + (metricSum(s, 'hexfleet_pings_applied_total') - metricSum(p, 'hexfleet_pings_applied_total')) / ((s.at - p.at) / 1000);
  }, 0);
}

/** "none", or "overloaded 12, closed_1006 3" — every non-ack reply by code. */
export function describeErrors(o: LoadOutcome, connectFailed: number): string {
  const parts = Object.entries(o.errors).map(([code, n]) => `${code} ${fmtInt(n)}`);
  if (o.unmatched) parts.push(`acks matching no batch ${fmtInt(o.unmatched)}`);
  if (o.unanswered) parts.push(`batches never answered ${fmtInt(o.unanswered)}`);
  if (connectFailed) parts.push(`failed connections ${fmtInt(connectFailed)}`);
  return parts.length === 0 ? 'none (0 non-ack replies, 0 unanswered batches)' : parts.join(', ');
}

/** Sum of the CPU of every process whose name starts with `prefix`. */
export function cpuOf(o: LoadOutcome, prefix: string): number {
  let total = 0;
  for (const [name, pct] of o.cpu) if (name.startsWith(prefix)) total += pct;
  return total;
}

/** The shape of an open-loop fleet: drivers over load generator processes, a batch of pings every period each. */
export interface OpenFleet {
  drivers: number;
  loadgens: number;
  batchPings: number;
  periodMs: number;
}

/**
 * The load generator configs of an open-loop fleet on `urls` (the gateways):
 * driver g on process g mod P and gateway ⌊g / P⌋ mod G, its sends at
 * g·period/N into each period, so every process and every gateway gets an
 * evenly spread share of each second; one fix per period ÷ batch, with ts that
 * far apart, as a phone batching its GPS sends.
 */
export function openFleetConfigs(o: OpenFleet, urls: string[], jwtSecret: string, idTag: string, seed: number): LoadgenConfig[] {
  return Array.from({ length: o.loadgens }, (_, p) => ({
    mode: 'open',
    urls,
    jwtSecret,
    first: p,
    step: o.loadgens,
    count: Math.ceil((o.drivers - p) / o.loadgens),
    totalDrivers: o.drivers,
    idTag,
    area: CITY_BOX,
    seed,
    batchPings: o.batchPings,
    depth: 0,
    periodMs: o.periodMs,
    dtS: o.periodMs / 1000 / o.batchPings,
    tsStepMs: o.periodMs / o.batchPings,
    connectConcurrency: 50,
  }));
}
