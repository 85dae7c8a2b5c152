import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';

const SOLVER = fileURLToPath(new URL('../solver.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface SolverRun {
  pid: number;
  /** The solver benchmark's markdown (its stdout), verbatim. */
  done: Promise<{ markdown: string; timings: SolverTiming[] }>;
}

/** One row of the solver's main table: in-thread solve time per problem shape. */
export interface SolverTiming {
  label: string;
  rows: number;
  cols: number;
  p50Ms: number;
  p95Ms: number;
}

/** The main table's rows: `| 1000 × 1000, dense | 15 | 131.9 / 146.3 | …`. */
const ROW = /^\| ((\d+) × (\d+), [^|]+?) \| \d+ \| ([\d.]+) \/ ([\d.]+) \|/;

/**
 * `node dist/bench/solver.js` (what `npm run bench:solver` runs after its
 * build) as a child process: its table is its own, reported as it prints it;
 * its progress lines (stderr) go to `onLine`.
 */
export function startSolver(quick: boolean, onLine: (line: string) => void): SolverRun {
  const proc = spawn(process.execPath, [SOLVER, ...(quick ? ['--quick'] : [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (code !== 0) return reject(new Error(`bench/solver.js exited with code ${code} (signal ${signal}): ${err.trim().split('\n').slice(-3).join(' / ')}`));
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
