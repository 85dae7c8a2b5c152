/**
 * The match API end to end: `POST /v1/match` then `POST /v1/orders/:id/cancel`
 * through the real gateway (its own process, one dispatch thread) on the
 * benchmark's Redis holding the parked fleet, driven by autocannon from a load
 * generator process (workers/match-loadgen.ts).
 *
 *   match-loadgen ──HTTP/1.1 keep-alive──▶ gateway ──Lua/HMGET/PUBLISH──▶ Redis
 *    (autocannon)    [match, cancel] per         └─piscina rank (1 thread)
 *                    connection, in sequence
 *
 * Three runs, each after its own warm-up:
 *   fixed rate   autocannon `overallRate` = 2 × rate requests/s (match + cancel)
 *   paced        the same rate on a uniform schedule, latency also counted from
 *                each match's scheduled time (coordinated omission corrected)
 *   max          closed loop, a few connections: the throughput ceiling
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TokenService } from '../../src/auth/tokens.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { metricSum, type Scrape } from '../../kit/metrics-scrape.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { Histogram } from '../lib/histogram.js';
import { type MatchContext, NOISY_OTHERS_PCT } from '../lib/match-context.js';
import type { MatchLoadConfig, MatchLoadKind, MatchRunMessage, MatchRunResult, StatusCounts } from '../lib/match-messages.js';
import { type Message, Worker } from '../lib/worker.js';
import { CpuWindow, statusBytes } from '../lib/proc-stats.js';
import { cpuBound, fmtInt, fmtMB, fmtMs, fmtPct, type Row } from '../lib/report.js';

const PHASE = 'match API';
/** Issue 3: match p99 ≤ 10 ms at 2,000 matches/s. */
const TARGET_P99_MS = 10;
/** A fixed-rate run that delivers less than this share of its rate did not test the target's load. */
const MIN_DELIVERED = 0.98;
const SEED = 0x0de1;
const RADIUS_M = 3000;

interface RunOutcome {
  kind: MatchLoadKind;
  label: string;
  r: MatchRunResult;
  connections: number;
  matchesPerS: number;
  cpu: Map<string, number>;
  othersPct: number;
  machineBusyPct: number;
  rss: number;
  peakRss: number;
  gatewayMeanMs: number;
  /** Redis commands over the window (INFO commandstats): name → calls and CPU µs. */
  redisCommands: Map<string, { calls: number; usec: number }>;
  openAfter: number;
  reservedAfter: number;
  /** Other processes' CPU (% of one core) in the noisier attempts measured before this one and dropped. */
  dropped: number[];
}

/** How a side's gateway starts: this build's, or the one of another checkout (--before). */
type StartGateway = () => Promise<GatewayProcess>;

/**
 * Starts the gateway and the load generator, runs fixed rate, paced and max
 * throughput, and stops both. With --before=<checkout>, the same runs first
 * against that checkout's gateway (its own dist/, started by its own kit, so
 * it gets only the settings it knows), then against this build's, on the
 * same Redis and fleet: the before/after of one run.
 */
export async function runMatchApi(ctx: MatchContext): Promise<Row[]> {
  const before = ctx.options.beforeDir;
  if (before === undefined) return runSide(ctx, '', () => startBenchGateway('gateway', ctx.gatewayEnv, ctx.tmpDir));
  const kit = (await import(pathToFileURL(join(before, 'dist/kit/gateway-process.js')).href)) as { GatewayProcess: typeof GatewayProcess };
  const env = await knownSettings(before, ctx.gatewayEnv);
  const startBefore: StartGateway = () => kit.GatewayProcess.start({ name: 'gateway-before', env, logFile: join(ctx.tmpDir, 'gateway-before.log') });
  const rowsBefore = await runSide(ctx, `before (${before}): `, startBefore);
  const rowsAfter = await runSide(ctx, 'after (this build): ', () => startBenchGateway('gateway', ctx.gatewayEnv, ctx.tmpDir));
  return [...rowsBefore, ...rowsAfter];
}

/**
 * `env` without the HEXFLEET_* settings the other checkout's gateway does not
 * know (it refuses unknown ones): settings added since, such as the frame
 * rate that bench gateways raise out of the way, do not exist there.
 */
async function knownSettings(checkout: string, env: Record<string, string>): Promise<Record<string, string>> {
  const schema = (await import(pathToFileURL(join(checkout, 'dist/src/config/config-schema.js')).href)) as {
    configSchema: Record<string, unknown>;
    envName: (key: string) => string;
  };
  const known = new Set(Object.keys(schema.configSchema).map((k) => schema.envName(k)));
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('HEXFLEET_') || known.has(k)));
}

async function runSide(ctx: MatchContext, side: string, start: StartGateway): Promise<Row[]> {
  const o = ctx.options;
  ctx.progress.log(PHASE, `${side}starting the gateway`);
  const gw = await start();
  const lg = new Worker('match-loadgen', 'match-loadgen.js', {
    onProgress: (m) => ctx.progress.log(PHASE, `  ${(m as Message & { text: string }).text}`),
  });
  const outcomes: RunOutcome[] = [];
  try {
    const token = await new TokenService(ctx.jwtSecret).sign({ role: 'service', sub: 'bench-match', ttlS: 24 * 3600 });
    const config: MatchLoadConfig = { type: 'config', url: `http://127.0.0.1:${gw.port}`, token, area: ctx.fleet.area, seed: SEED, radiusM: RADIUS_M };
    lg.send(config);
    await lg.next('ready', 30_000);
    const runs: { kind: MatchLoadKind; label: string; connections: number }[] = [
      { kind: 'rate', label: `fixed rate ${fmtInt(o.rate)}/s (autocannon overallRate)`, connections: o.rateConnections },
      { kind: 'paced', label: `fixed rate ${fmtInt(o.rate)}/s (paced, CO-corrected)`, connections: o.rateConnections },
      { kind: 'closed', label: `max throughput (closed loop, ${o.maxConnections} connections)`, connections: o.maxConnections },
    ];
    for (const [i, run] of runs.entries()) {
      const attempts: RunOutcome[] = [];
      for (let a = 0; a <= o.noisyRetries; a++) {
        const warmupS = o.warmupS + (i === 0 && a === 0 ? o.prewarmS : 0);
        const x = await measure(ctx, gw, lg, run.kind, run.label, run.connections, warmupS);
        attempts.push(x);
        if (x.othersPct <= NOISY_OTHERS_PCT) break;
        if (a < o.noisyRetries) ctx.progress.log(`${PHASE} ${run.kind}`, `other processes used ${fmtPct(x.othersPct)} of one core during the window: measuring again`);
      }
      const best = attempts.reduce((q, x) => (x.othersPct < q.othersPct ? x : q));
      best.dropped = attempts.filter((x) => x !== best).map((x) => x.othersPct);
      outcomes.push(best);
    }
  } finally {
    await lg.stop();
    await gw.stop();
  }
  return rows(ctx, outcomes).map((r) => ({ ...r, scenario: side + r.scenario }));
}

async function measure(
  ctx: MatchContext, gw: GatewayProcess, lg: Worker, kind: MatchLoadKind, label: string, connections: number, warmupS: number,
): Promise<RunOutcome> {
  const o = ctx.options;
  const phase = `${PHASE} ${kind}`;
  await awaitQuietMachine(ctx, phase, new Map([['gateway', gw.pid], ['match-loadgen', lg.pid]]));
  const run: MatchRunMessage = { type: 'run', kind, connections, matchesPerS: o.rate, warmupS, durationS: o.durationS };
  ctx.progress.log(phase, `${label}: ${warmupS} s warm-up, then ${o.durationS} s measured`);
  lg.send(run);
  await lg.next('measuring', (warmupS + 120) * 1000);
  const cpu = new CpuWindow(new Map([['gateway', gw.pid], ['redis-server', ctx.redis.pid], ['match-loadgen', lg.pid], ['bench', process.pid]]));
  const first = await gw.scrape();
  const statsBefore = await commandStats(ctx);
  await lg.next('measured', (o.durationS + 60) * 1000);
  const c = cpu.end();
  const statsAfter = await commandStats(ctx);
  const rss = statusBytes(gw.pid, 'VmRSS');
  const peakRss = statusBytes(gw.pid, 'VmHWM');
  const last = await gw.scrape();
  const r = await lg.next<MatchRunResult>('result', 120_000);
  gw.assertAlive();
  const p = ctx.keyPrefix;
  const openAfter = await ctx.redis.client.scard(p + 'o:open');
  const reservedAfter = await countKeys(ctx, p + 'res:*');
  if (openAfter > 0) {
    for (const id of await ctx.redis.client.srandmember(p + 'o:open', 3)) {
      const doc = await ctx.redis.client.hget(p + 'o:' + id, 'doc');
      ctx.progress.log(phase, `still open after the clean-up: ${id} ${doc?.slice(0, 600)}`);
    }
  }
  const outcome: RunOutcome = {
    kind, label, r, connections, matchesPerS: o.rate,
    cpu: c.perProcess, othersPct: c.othersPct, machineBusyPct: c.machineBusyPct, rss, peakRss,
    gatewayMeanMs: meanMs(first, last, 'hexfleet_match_seconds'),
    redisCommands: diffStats(statsBefore, statsAfter),
    openAfter, reservedAfter, dropped: [],
  };
  const h = latencyOf(outcome);
  ctx.progress.log(phase, `${fmtInt(okPerS(r))} matches/s, p50 ${fmtMs(h.percentile(0.5))} ms, p99 ${fmtMs(h.percentile(0.99))} ms; gateway ${fmtPct(c.perProcess.get('gateway') ?? NaN)} CPU`);
  return outcome;
}

async function countKeys(ctx: MatchContext, pattern: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.client.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

/** INFO commandstats: command → calls and total CPU µs inside Redis. */
async function commandStats(ctx: MatchContext): Promise<Map<string, { calls: number; usec: number }>> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of Object.entries(await ctx.redis.info('commandstats'))) {
    const calls = /calls=(\d+)/.exec(v);
    const usec = /usec=(\d+)/.exec(v);
    if (calls && usec) out.set(k.replace(/^cmdstat_/, ''), { calls: Number(calls[1]), usec: Number(usec[1]) });
  }
  return out;
}

function diffStats(a: Map<string, { calls: number; usec: number }>, b: Map<string, { calls: number; usec: number }>): Map<string, { calls: number; usec: number }> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of b) {
    const p = a.get(k) ?? { calls: 0, usec: 0 };
    if (v.calls > p.calls) out.set(k, { calls: v.calls - p.calls, usec: v.usec - p.usec });
  }
  return out;
}

/** Mean of a Prometheus histogram between two scrapes, in ms. */
function meanMs(a: Scrape, b: Scrape, name: string): number {
  const sum = metricSum(b, `${name}_sum`) - metricSum(a, `${name}_sum`);
  const count = metricSum(b, `${name}_count`) - metricSum(a, `${name}_count`);
  return count > 0 ? (sum / count) * 1000 : NaN;
}

const okPerS = (r: MatchRunResult): number => (r.matchStatus['200'] ?? 0) / r.durationS;
/** The latency the target is judged on: from the scheduled time where there is one. */
const latencyOf = (x: RunOutcome): Histogram => Histogram.fromJSON(x.r.matchCorrected ?? x.r.matchLatency);
const pcts = (h: Histogram): string =>
  `${fmtMs(h.percentile(0.5))} / ${fmtMs(h.percentile(0.99))} / ${fmtMs(h.percentile(0.999))} ms (max ${fmtMs(h.maxMs)} ms, ${fmtInt(h.count)} requests)`;

function statuses(s: StatusCounts): string {
  const parts = Object.entries(s).filter(([k]) => k !== '200').sort(([, a], [, b]) => b - a).map(([k, n]) => `${k}: ${fmtInt(n)}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function rows(ctx: MatchContext, outcomes: RunOutcome[]): Row[] {
  const o = ctx.options;
  const cfg = ctx.config;
  const out: Row[] = [{
    scenario: PHASE,
    figure: 'parameters',
    value:
      `1 gateway process (\`node dist/src/cli.js serve\`, ${cfg.dispatchThreads} dispatch thread, pool queue ${cfg.dispatchMaxQueue}), ` +
      `${fmtInt(ctx.fleet.size)} available drivers parked uniformly over ${(2 * ctx.fleet.area.halfSideM) / 1000}×${(2 * ctx.fleet.area.halfSideM) / 1000} km (${ctx.fleet.area.name}); ` +
      `orders at uniform random pickups in the same box, radius ${RADIUS_M} m, ${cfg.matchCandidates} candidates ranked per match, mode immediate, unique orderIds; ` +
      `autocannon 8 from 1 load generator process, requests [match, cancel] on each connection: every 200 is cancelled by the next request of the same connection ` +
      `(a non-200 match skips its cancel); ${o.warmupS} s warm-up + ${o.durationS} s measured per run, ` +
      `the first run's warm-up ${o.prewarmS} s longer to fill the gateway's ring-geometry cache (steady state); ` +
      `orders still open after a run (cut off by its stop) are cancelled before the next`,
  }];
  for (const x of outcomes) {
    const s = x.label;
    const r = x.r;
    const ok = okPerS(r);
    const service = Histogram.fromJSON(r.matchLatency);
    const fixed = x.kind !== 'closed';
    const delivered = ok / x.matchesPerS;
    out.push({
      scenario: s,
      figure: fixed ? `matches/s achieved (200 offered) of ${fmtInt(x.matchesPerS)} offered; sent` : 'matches/s achieved (200 offered); sent',
      value: `${fmtInt(ok)}; ${fmtInt(r.matchSent / r.durationS)}/s sent, ${fmtInt(r.distinctDrivers)} distinct drivers offered`,
      ...(fixed ? { target: `≥ ${Math.round(MIN_DELIVERED * 100)} % of ${fmtInt(x.matchesPerS)}`, met: delivered >= MIN_DELIVERED } : {}),
    });
    if (x.kind === 'paced') {
      const corrected = latencyOf(x);
      const lag = Histogram.fromJSON(r.sendLag!);
      out.push({
        scenario: s,
        figure: 'match latency p50 / p99 / p99.9, scheduled send → response (coordinated omission corrected)',
        value: pcts(corrected),
        target: `p99 ≤ ${TARGET_P99_MS} ms at ${fmtInt(x.matchesPerS)}/s`,
        met: corrected.percentile(0.99) <= TARGET_P99_MS && delivered >= MIN_DELIVERED,
      });
      out.push({ scenario: s, figure: 'load generator send lag p99 / max (late sends; included above)', value: `${fmtMs(lag.percentile(0.99))} / ${fmtMs(lag.maxMs)} ms` });
    }
    out.push({
      scenario: s,
      figure: 'match latency p50 / p99 / p99.9, send → response',
      value: pcts(service),
      ...(x.kind === 'rate' ? { target: `p99 ≤ ${TARGET_P99_MS} ms at ${fmtInt(x.matchesPerS)}/s`, met: service.percentile(0.99) <= TARGET_P99_MS && delivered >= MIN_DELIVERED } : {}),
    });
    const cancel = Histogram.fromJSON(r.cancelLatency);
    out.push({ scenario: s, figure: 'cancel latency p50 / p99, send → response', value: `${fmtMs(cancel.percentile(0.5))} / ${fmtMs(cancel.percentile(0.99))} ms` });
    const ac = r.autocannon;
    out.push({
      scenario: s,
      figure: "autocannon's own latency histogram, match and cancel together (whole ms): p50 / p90 / p99 / p99.9 / max",
      value: `${ac.latency.p50} / ${ac.latency.p90} / ${ac.latency.p99} / ${ac.latency.p99_9} / ${ac.latency.max} ms over ${fmtInt(ac.requests)} requests`,
    });
    out.push({ scenario: s, figure: 'gateway-side mean match time (hexfleet_match_seconds sum ÷ count)', value: `${fmtMs(x.gatewayMeanMs)} ms` });
    out.push({
      scenario: s,
      figure: 'non-2xx by status',
      value:
        `match: ${statuses(r.matchStatus)}; cancel: ${statuses(r.cancelStatus)}; ` +
        `autocannon errors ${fmtInt(ac.errors)} (timeouts ${fmtInt(ac.timeouts)}); matches cut off by the stop ${fmtInt(r.unansweredAtStop)}`,
    });
    out.push({
      scenario: s,
      figure: 'after the run: orders cancelled by the clean-up; open orders / reserved drivers left',
      value: `${Object.entries(r.drain).map(([k, n]) => `${k}: ${fmtInt(n)}`).join(', ') || 'none'}; ${fmtInt(x.openAfter)} / ${fmtInt(x.reservedAfter)}`,
    });
    out.push({ scenario: s, figure: 'gateway CPU / RSS at the end (peak)', value: `${fmtPct(x.cpu.get('gateway') ?? NaN)} of one core (all its threads) / ${fmtMB(x.rss)} (${fmtMB(x.peakRss)})` });
    // CPU time per answered match and its cancel: what one more match/s costs each process.
    const per = (name: string): string => fmtMs(((x.cpu.get(name) ?? NaN) / 100 / ok) * 1000);
    out.push({
      scenario: s,
      figure: 'CPU per match + its cancel: gateway / Redis / load generator (ms of one core)',
      value: `${per('gateway')} / ${per('redis-server')} / ${per('match-loadgen')} ms`,
    });
    const okCount = r.matchStatus['200'] ?? 0;
    const commands = [...x.redisCommands].filter(([k]) => k !== 'info').sort(([, a], [, b]) => b.usec - a.usec).slice(0, 6);
    out.push({
      scenario: s,
      figure: 'Redis commands per match + its cancel, top 6 by CPU: calls (µs per call) (INFO commandstats; EVALSHA = every Lua script, including the commands it runs, which are also counted on their own)',
      value: commands.map(([k, v]) => `${k} ${(v.calls / okCount).toFixed(2)} (${(v.usec / v.calls).toFixed(1)})`).join(', '),
    });
    out.push({
      scenario: s,
      figure: 'CPU: Redis / load generator / other processes (% of one core); machine busy',
      value:
        `${fmtPct(x.cpu.get('redis-server') ?? NaN)} / ${fmtPct(x.cpu.get('match-loadgen') ?? NaN)} / ${fmtPct(x.othersPct)}; ${fmtPct(x.machineBusyPct)} of all cores` +
        (x.dropped.length > 0 ? ` (the quietest of ${x.dropped.length + 1} attempts; other processes used ${x.dropped.map(fmtPct).join(', ')} in the others)` : ''),
    });
    out.push({ scenario: s, figure: 'CPU-bound processes', value: cpuBound(x.cpu) });
  }
  return out;
}
