/**
 * bench:match's solver scenario: the solver suite (scenarios/solver.ts) run
 * as a child process, `node dist/bench/run.js solver`, so that its CPU is
 * its own and the machine's other work during it can be reported. Its
 * markdown (its stdout) goes into the report verbatim, after the notes; its
 * in-thread timings become rows, the 1000 × 1000 one judged on the target.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { track } from '../../kit/child-processes.js';
import { REPO_ROOT } from '../../kit/repo-root.js';
import { sleep } from '../lib/clock.js';
import type { MatchContext } from '../lib/match-context.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import { fmtMs, fmtPct, type Row } from '../lib/report.js';

const RUNNER = join(REPO_ROOT, 'dist/bench/run.js');
const PHASE = 'solver';
/** Issue 3: 1000 × 1000 solve ≤ 80 ms. */
const SOLVER_TARGET_MS = 80;

/** One row of the solver's main table: in-thread solve time per problem shape. */
interface SolverTiming {
  label: string;
  rows: number;
  cols: number;
  p50Ms: number;
  p95Ms: number;
}

/** The main table's rows: `| 1000 × 1000, dense | 15 | 131.9 / 146.3 | …`. */
const ROW = /^\| ((\d+) × (\d+), [^|]+?) \| \d+ \| ([\d.]+) \/ ([\d.]+) \|/;

/** Runs the solver suite as a child while sampling the machine's other CPU use, whole seconds at a time. */
export async function runSolverChild(ctx: MatchContext): Promise<Row[]> {
  await awaitQuietMachine(ctx, PHASE, new Map());
  const args = ['solver', ...(ctx.options.quick ? ['--quick'] : [])];
  ctx.progress.log(PHASE, `node dist/bench/run.js ${args.join(' ')}`);
  const t0 = performance.now();
  const child = startSolver(args, (line) => ctx.progress.log(PHASE, `  ${line}`));
  let finished = false;
  const done = child.done.finally(() => (finished = true));
  // Whole seconds while the child lives: once it has exited its /proc entry is
  // gone and its CPU would be counted as other processes'.
  let othersCpuS = 0;
  let sampledS = 0;
  while (!finished) {
    const cpu = new CpuWindow(new Map([['solver', child.pid], ['redis-server', ctx.redis.pid], ['bench', process.pid]]));
    await Promise.race([sleep(1000), done.catch(() => {})]);
    if (finished) break;
    const c = cpu.end();
    othersCpuS += c.othersPct / 100;
    sampledS += 1;
  }
  const { markdown, timings } = await done;
  ctx.appendix.push(markdown);
  const rows: Row[] = [{
    scenario: PHASE,
    figure: 'parameters',
    value: `bench/scenarios/solver.ts (\`npm run bench:solver\`${ctx.options.quick ? ' -- --quick' : ''}) as a child process, ${((performance.now() - t0) / 1000).toFixed(0)} s; its full table is below`,
  }];
  for (const t of timings) {
    const square = t.rows === 1000 && t.cols === 1000;
    rows.push({
      scenario: PHASE,
      figure: `${t.label}: in-thread solve p50 / p95`,
      value: `${fmtMs(t.p50Ms)} / ${fmtMs(t.p95Ms)} ms`,
      ...(square ? { target: `p50 ≤ ${SOLVER_TARGET_MS} ms`, met: t.p50Ms <= SOLVER_TARGET_MS } : {}),
    });
  }
  rows.push({ scenario: PHASE, figure: 'CPU: other processes (% of one core) while it ran', value: fmtPct((othersCpuS / sampledS) * 100) });
  return rows;
}

/** The child: its stdout is the solver's markdown, verbatim; its stderr lines (progress) go to `onLine`. */
function startSolver(args: string[], onLine: (line: string) => void): { pid: number; done: Promise<{ markdown: string; timings: SolverTiming[] }> } {
  const proc = spawn(process.execPath, [RUNNER, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    const lines = err.split('\n');
    err = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onLine(l);
  });
  const done = new Promise<{ markdown: string; timings: SolverTiming[] }>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`bench solver exited with code ${code} (signal ${signal}): ${err.trim().split('\n').slice(-3).join(' / ')}`));
      const timings: SolverTiming[] = [];
      for (const line of out.split('\n')) {
        const m = ROW.exec(line);
        if (m) timings.push({ label: m[1]!, rows: Number(m[2]), cols: Number(m[3]), p50Ms: Number(m[4]), p95Ms: Number(m[5]) });
      }
      resolve({ markdown: out.trim(), timings });
    });
  });
  return { pid: proc.pid ?? NaN, done };
}
