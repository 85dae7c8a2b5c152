/**
 * The measured windows of bench:nearby-http: interleaved rounds, every side
 * once per round in the same order (A B C A B C …), each a warm-up window
 * then a measured one from the load generator process, the same seeded
 * query points for every side of a round. Interleaving spreads a burst of
 * other work on the machine over all sides instead of one.
 *
 *   bench ──IPC──▶ nearby-http-loadgen ──16 connections──▶ side
 *     └── /proc CPU of the side's servers, the load generator and the rest
 */
import { Histogram } from '../lib/histogram.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import { fmtInt, fmtMs } from '../lib/report.js';
import type { Worker } from '../lib/worker.js';
import type { LoadResult, LoadRun, LoadTarget } from '../workers/nearby-http-messages.js';
import type { LiveSide, NearbyHttpContext } from './nearby-http-context.js';

const QUERY_SEED = 0x4e42;

/** Everything measured of one side, summed over its windows. */
export interface Tally {
  queries: number;
  ok: number;
  seconds: number;
  returned: number;
  latency: Histogram;
  errors: Record<string, number>;
  /** Per measured window: queries/s. */
  windowQps: number[];
  loadgenCpuS: number;
  /** CPU-seconds of each server process of the side. */
  serverCpuS: Map<string, number>;
  /** CPU-seconds the rest of the machine used meanwhile. */
  othersCpuS: number;
}

/** A side to drive: its name in progress lines, where the load goes, which processes serve it. */
export type Drivable = Pick<LiveSide, 'key' | 'target' | 'servers'>;

/** Runs the interleaved rounds over the live sides; a tally per side key. */
export async function measureRounds(ctx: NearbyHttpContext, lg: Worker, sides: readonly Drivable[]): Promise<Map<string, Tally>> {
  const tallies = new Map(sides.map((s) => [s.key, emptyTally()]));
  for (let round = 0; round < ctx.options.rounds; round++) {
    for (const side of sides) {
      await measureWindow(ctx, lg, side, QUERY_SEED + round, tallies.get(side.key)!, `round ${round + 1}/${ctx.options.rounds}`);
    }
  }
  return tallies;
}

/** One warm-up + measured window of one side, added to `into`. */
export async function measureWindow(ctx: NearbyHttpContext, lg: Worker, side: Drivable, seed: number, into: Tally, what: string): Promise<void> {
  const o = ctx.options;
  const pids = new Map([...side.servers, ['loadgen', lg.pid], ['bench', process.pid]]);
  await awaitQuietMachine(ctx, side.key, pids);
  const run: LoadRun = { type: 'run', target: side.target, connections: o.connections, warmupS: o.warmupS, durationS: o.durationS, seed, respClient: o.respClient };
  lg.send(run);
  await lg.next('measuring', (o.warmupS + 60) * 1000);
  const cpu = new CpuWindow(pids);
  await lg.next('measured', (o.durationS + 60) * 1000);
  const c = cpu.end();
  const r = await lg.next<LoadResult>('result', 60_000);
  const qps = r.queries / r.seconds;
  into.queries += r.queries;
  into.ok += r.ok;
  into.seconds += r.seconds;
  into.returned += r.returned;
  into.latency.merge(Histogram.fromJSON(r.latency));
  for (const [k, n] of Object.entries(r.errors)) into.errors[k] = (into.errors[k] ?? 0) + n;
  into.windowQps.push(qps);
  into.loadgenCpuS += r.cpuS;
  for (const name of side.servers.keys()) {
    into.serverCpuS.set(name, (into.serverCpuS.get(name) ?? 0) + ((c.perProcess.get(name) ?? NaN) / 100) * r.seconds);
  }
  into.othersCpuS += (c.othersPct / 100) * r.seconds;
  const h = Histogram.fromJSON(r.latency);
  const errors = r.queries - r.ok;
  ctx.progress.log(
    side.key,
    `${what}: ${fmtInt(qps)} queries/s, p50 ${fmtMs(h.percentile(0.5))} ms, p99 ${fmtMs(h.percentile(0.99))} ms` +
      `${errors > 0 ? `, ${fmtInt(errors)} errors (${Object.keys(r.errors).join(', ')})` : ''}; ` +
      [...side.servers.keys(), 'loadgen'].map((n) => `${n} ${fmtInt(c.perProcess.get(n) ?? NaN)} %`).join(', ') +
      `, others ${fmtInt(c.othersPct)} % of one core`,
  );
}

export function emptyTally(): Tally {
  return {
    queries: 0, ok: 0, seconds: 0, returned: 0, latency: new Histogram(), errors: {}, windowQps: [],
    loadgenCpuS: 0, serverCpuS: new Map(), othersCpuS: 0,
  };
}

/** The target of the load generator's ceiling (an HTTP server that answers at once). */
export function ceilingSide(port: number, pid: number, token: string): Drivable {
  const target: LoadTarget = { kind: 'http', ports: [port], token };
  return { key: 'ceiling', target, servers: new Map([['echo-server', pid]]) };
}
