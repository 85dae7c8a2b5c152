/**
 * One measured window of bench:cluster, the same for ingest and nearby: the
 * workers of one configuration start together, warm up, and are measured
 * over [from, to); meanwhile the CPU of every process of the run (all Redis
 * nodes, the workers, this runner) and the scripts each primary served are
 * read from outside them.
 */
import os from 'node:os';
import { nowMs, sleepUntil } from '../lib/clock.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { fmtInt, fmtMs, fmtPct } from '../lib/report.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import type { Message, Worker } from '../lib/worker.js';
import type { ClusterContext, RedisNode, Target, Usage } from './cluster-context.js';

/** Time allowed after a window for the workers' last calls and their reports. */
const RESULT_TIMEOUT_MS = 60_000;
/** The window opens this long after the go is sent, so every worker has it. */
const START_DELAY_MS = 200;

/** An empty tally, to add windows to. */
export function emptyUsage(): Usage {
  return { seconds: 0, cpuS: new Map(), othersS: 0, busyS: 0, scripts: new Map(), waits: new Map() };
}

/**
 * Script calls and WAITs a server has served since it started, from INFO
 * commandstats (which also counts the commands a script runs: those are
 * left out here, so a script counts once, as the client sent it).
 */
async function served(ctx: ClusterContext, name: string): Promise<{ scripts: number; waits: number }> {
  const server = ctx.nodes.find((n) => n.name === name)!.server;
  const text = await server.client.info('commandstats');
  const calls = (cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { scripts: calls('evalsha') + calls('eval') + calls('evalsha_ro') + calls('eval_ro'), waits: calls('wait') };
}

/**
 * Runs one window: sends each worker `go(window)`, waits for every result,
 * and adds the window's CPU and script counts to `into`; returns the
 * results and the window's own usage.
 */
export async function measureWindow<R extends Message>(
  ctx: ClusterContext,
  phase: string,
  workers: Worker[],
  go: (w: { startAt: number; measureFrom: number; measureTo: number }, i: number) => Message,
  into: Usage,
): Promise<{ results: R[]; window: Usage }> {
  const pids = new Map<string, number>([
    ...ctx.nodes.map((n): [string, number] => [n.name, n.server.pid]),
    ...workers.map((w): [string, number] => [w.name, w.pid]),
    ['bench', process.pid],
  ]);
  await awaitQuietMachine(ctx, phase, pids);
  const startAt = nowMs() + START_DELAY_MS;
  const measureFrom = startAt + ctx.options.warmupS * 1000;
  const measureTo = measureFrom + ctx.options.durationS * 1000;
  workers.forEach((w, i) => w.send(go({ startAt, measureFrom, measureTo }, i)));
  const results = Promise.all(workers.map((w) => w.next<R>('result', (measureTo - nowMs()) + RESULT_TIMEOUT_MS)));
  // A worker that fails before the window fails the window now, not after it.
  results.catch(() => {});
  const counted = ctx.nodes.filter((n) => n.role !== 'replica').map((n) => n.name);
  await sleepUntil(measureFrom);
  // CPU first (a few /proc reads), then the INFO round trips: the CPU window is the one that must line up with [from, to).
  const cpu = new CpuWindow(pids);
  const before = await Promise.all(counted.map((name) => served(ctx, name)));
  await sleepUntil(measureTo);
  const c = cpu.end();
  const after = await Promise.all(counted.map((name) => served(ctx, name)));
  // Rates over the CPU window, times the measured window: CPU-seconds of the same span the workers counted their operations in.
  const windowS = ctx.options.durationS;
  const window: Usage = {
    seconds: windowS,
    cpuS: new Map([...c.perProcess].map(([name, pct]) => [name, (pct / 100) * windowS])),
    othersS: (c.othersPct / 100) * windowS,
    busyS: (c.machineBusyPct / 100) * windowS * os.availableParallelism(),
    scripts: new Map(counted.map((name, i) => [name, after[i]!.scripts - before[i]!.scripts])),
    waits: new Map(counted.map((name, i) => [name, after[i]!.waits - before[i]!.waits])),
  };
  addUsage(into, window);
  return { results: await results, window };
}

function addUsage(into: Usage, w: Usage): void {
  const add = (a: Map<string, number>, b: Map<string, number>): void => b.forEach((v, k) => a.set(k, (a.get(k) ?? 0) + v));
  into.seconds += w.seconds;
  into.othersS += w.othersS;
  into.busyS += w.busyS;
  add(into.cpuS, w.cpuS);
  add(into.scripts, w.scripts);
  add(into.waits, w.waits);
}

/** A window in one line: other processes' CPU, and this run's CPU per 1,000 operations (every process of it). */
export function windowNote(w: Usage, ops: number): string {
  let ours = 0;
  for (const s of w.cpuS.values()) if (Number.isFinite(s)) ours += s;
  return `other processes ${fmtPct((100 * w.othersS) / w.seconds)}, ours ${fmtMs((1e6 * ours) / ops)} ms CPU per 1,000`;
}

/** The processes of a window, grouped for the model. */
export type Group = 'primaries' | 'replicas' | 'idle nodes' | 'client' | 'bench';

/** Which group a Redis node belongs to when `target` is measured: the other topology's nodes sit idle. */
function groupOf(node: RedisNode, target: Target): Group {
  if (target.cluster !== (node.role !== 'standalone')) return 'idle nodes';
  return node.role === 'replica' ? 'replicas' : 'primaries';
}

/** CPU-seconds of a group over `usage` (workers are the client). */
export function groupCpuS(ctx: ClusterContext, usage: Usage, target: Target, group: Group): number {
  let s = 0;
  for (const [name, cpuS] of usage.cpuS) {
    const node = ctx.nodes.find((n) => n.name === name);
    const g: Group = node ? groupOf(node, target) : name === 'bench' ? 'bench' : 'client';
    if (g === group && Number.isFinite(cpuS)) s += cpuS;
  }
  return s;
}

/** CPU-seconds of each serving Redis process of `target` (the primaries, or the one Redis), by name. */
export function servingCpuS(ctx: ClusterContext, usage: Usage, target: Target): [name: string, cpuS: number][] {
  return ctx.nodes.filter((n) => groupOf(n, target) === 'primaries').map((n) => [n.name, usage.cpuS.get(n.name) ?? NaN]);
}

/** "none", or each error with its count. */
export function describeErrors(errors: Record<string, number>): string {
  const e = Object.entries(errors);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${fmtInt(n)} × ${k}`).join('; ');
}
