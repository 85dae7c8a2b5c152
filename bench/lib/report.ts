import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { RedisServer } from '../../kit/redis-server.js';
import { REPO_ROOT } from '../../kit/repo-root.js';

/** One line of the results table. `met` undefined: no target for this figure. */
export interface Row {
  scenario: string;
  figure: string;
  value: string;
  target?: string;
  met?: boolean;
}

export interface MachineInfo {
  cpus: number;
  model: string;
  ramBytes: number;
  os: string;
  node: string;
  redis: string;
  openFiles: string;
}

/** The machine a run measured on, for the report's header (Redis: the run's own server). */
export async function machineInfo(redis: RedisServer): Promise<MachineInfo> {
  const read = (f: string): string => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const model = /^model name\s*:\s*(.+)$/m.exec(read('/proc/cpuinfo'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const limit = /^Max open files\s+(\S+)\s+(\S+)/m.exec(read('/proc/self/limits'));
  return {
    cpus: os.availableParallelism(),
    model,
    ramBytes: os.totalmem(),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: (await redis.info('server')).redis_version ?? 'unknown',
    openFiles: limit ? `${limit[1]} soft / ${limit[2]} hard` : 'unknown',
  };
}

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fmtMs = (n: number): string => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : 'n/a');
export const fmtPct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n)} %` : 'n/a');
export const fmtMB = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(0)} MB` : 'n/a');

/** A single JS thread (or Redis's main thread) at ≥ 90 % of one core is saturated: it caps the figure. */
const SATURATED_PCT = 90;

/** Which processes were CPU-bound over a window, e.g. "gateway (99 %)", or "none". */
export function cpuBound(perProcess: ReadonlyMap<string, number>): string {
  const hot = [...perProcess].filter(([, pct]) => pct >= SATURATED_PCT).map(([name, pct]) => `${name} (${fmtPct(pct)})`);
  return hot.length > 0 ? hot.join(', ') : `none (no process at ≥ ${SATURATED_PCT} % of one core)`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The whole report: run header, machine, and the table. */
export function renderReport(args: {
  /** Default "hexfleet ingest benchmark". */
  title?: string;
  startedAt: Date;
  command: string;
  runKind: string;
  machine: MachineInfo;
  rows: Row[];
  notes: string[];
}): string {
  const m = args.machine;
  const lines = [
    `# ${args.title ?? 'hexfleet ingest benchmark'}`,
    '',
    `Run ${args.startedAt.toISOString()} with \`${args.command}\` (${args.runKind}).`,
    '',
    `Machine: ${m.cpus} × ${m.model}, ${(m.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.os}; ` +
      `Node.js ${m.node}; Redis ${m.redis} (appendonly yes, appendfsync everysec, save ""); ` +
      `open files per process ${m.openFiles}. Load generators, gateways and Redis all run on this machine.`,
    '',
    '| Scenario | Figure | Value | Target | Met |',
    '|---|---|---|---|---|',
    ...args.rows.map(
      (r) => `| ${cell(r.scenario)} | ${cell(r.figure)} | ${cell(r.value)} | ${cell(r.target ?? '')} | ${r.met === undefined ? '' : r.met ? 'met' : '**not met**'} |`,
    ),
  ];
  if (args.notes.length > 0) lines.push('', ...args.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}

const RESULTS_DIR = join(REPO_ROOT, 'bench/results');

/** `npm run <script> -- <args>` as this run was started, for the report's header. */
export function commandLine(script: string, args: readonly string[]): string {
  return [`npm run ${script}`, ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
}

/** Prints the report and writes it to bench/results/<fileName>; returns the path. */
export function publishReport(report: string, fileName: string): string {
  const file = join(RESULTS_DIR, fileName);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, report);
  process.stdout.write('\n' + report + '\n');
  return file;
}
