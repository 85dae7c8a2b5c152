import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { StoreReplaySummary } from '../../src/replay/store-replay.js';
import { track } from '../../kit/child-processes.js';
import { CLI_PATH, REPO_ROOT } from '../../kit/repo-root.js';
import { CLK_TCK, CpuWindow } from './proc-stats.js';

/** A replay that has not finished after this long is killed: 1,000,000 pings take seconds. */
const TIMEOUT_MS = 10 * 60_000;

export interface ReplayCliRun {
  summary: StoreReplaySummary;
  /** From spawn to exit: Node's start, connecting, the replay, closing. */
  wallS: number;
  /** % of one core over the whole run, by name (the command is "replay"). */
  cpu: Map<string, number>;
  machineBusyPct: number;
  othersPct: number;
}

/**
 * `hexfleet replay --to now --json` as an operator runs it: its own process,
 * configured by environment only (`env`: REDIS_URL, HEXFLEET_*). The
 * parent's HEXFLEET_* are not passed (the run's settings are exactly `env`).
 * Progress lines (stderr) go to `onProgress`; rejects on a non-zero exit.
 * CPU is measured over the whole run for the command and `watch`.
 *
 * The command's CPU cannot be read from /proc/<pid> at its end (the process
 * is gone by the time 'exit' fires), so it is read from this process's
 * cutime + cstime, which gain a child's whole CPU time when it is reaped:
 * exact, provided no other child of this process exits meanwhile (the
 * scenario's only other child, its worker, is waiting).
 */
export async function runReplayCli(env: Record<string, string>, watch: ReadonlyMap<string, number>, onProgress: (line: string) => void): Promise<ReplayCliRun> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_') && k !== 'REDIS_URL') childEnv[k] = v;
  Object.assign(childEnv, env);
  const reaped = reapedChildrenCpuSeconds();
  const started = performance.now();
  const cpu = new CpuWindow(watch);
  const child = spawn(process.execPath, [CLI_PATH, 'replay', '--to', 'now', '--json'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onProgress(line);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  const wallS = (performance.now() - started) / 1000;
  const out = cpu.end();
  const replayPct = ((reapedChildrenCpuSeconds() - reaped) / wallS) * 100;
  if (code !== 0) throw new Error(`hexfleet replay exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const perProcess = new Map([['replay', replayPct], ...out.perProcess]);
  // CpuWindow counted the command among "other processes": it is ours.
  return { summary: JSON.parse(stdout) as StoreReplaySummary, wallS, cpu: perProcess, machineBusyPct: out.machineBusyPct, othersPct: Math.max(0, out.othersPct - replayPct) };
}

/** cutime + cstime of this process (/proc/self/stat): the CPU seconds of every child it has reaped. */
function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}
