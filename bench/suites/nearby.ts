/**
 * `npm run bench:nearby`: in-process nearby on one thread, the old memory
 * store's search against DriverIndex in the same run
 * (scenarios/nearby-index.ts), and bytes per driver of both layouts at
 * 1,000,000 drivers (scenarios/nearby-memory.ts). Needs no Redis. Prints
 * markdown and writes it to bench/results/nearby-latest.md (nearby-quick.md
 * for --quick).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../kit/repo-root.js';
import { gitState } from '../lib/git-state.js';
import { commandLine, type Row } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { type NearbyBenchContext, runNearbyIndex } from '../scenarios/nearby-index.js';
import { runNearbyMemory } from '../scenarios/nearby-memory.js';

const SCENARIOS: Record<string, Scenario<NearbyBenchContext> & { help: string }> = {
  query: { name: 'nearby in-process', run: runNearbyIndex, help: 'queries/s and latency: the old Map-of-cells search vs DriverIndex vs MemoryDriverStore' },
  memory: { name: 'memory per driver', run: runNearbyMemory, help: 'bytes per driver at 1,000,000 drivers: the old layout vs MemoryDriverStore on DriverIndex' },
};

export const nearbySuite: Suite = {
  name: 'nearby',
  summary:
    'In-process nearby on one thread over 100,000 drivers (nearest 10 within 3 km; everyone within 1 km): ' +
    'the old memory store search against DriverIndex in the same run; bytes per driver of both at 1,000,000 drivers.',
  flags: {
    quick: 'smoke run: 20,000 drivers, 1.5 s per side and shape, memory at 100,000 drivers (results go to nearby-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 1, quick: 0.5, help: 'JIT warm-up per side and shape, after the ring caches are warmed' },
    duration: { full: 9, quick: 1.5, help: 'measured seconds per side and shape (split into alternating rounds)' },
    waitQuiet: 'before each round, wait up to this long for processes outside the benchmark to go quiet (shared machines; default 0 = start at once)',
  },
  output: 'markdown',
  prepare(common) {
    return async ({ progress }) => {
      const built = gitState();
      const startedAt = new Date();
      const ctx: NearbyBenchContext = { progress, options: common };
      const { rows } = await runScenarios(ctx, common.scenarios.map((s) => SCENARIOS[s]!));
      const markdown = render(rows, startedAt, built, common.quick);
      const file = join(REPO_ROOT, 'bench/results', common.quick ? 'nearby-quick.md' : 'nearby-latest.md');
      mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
      writeFileSync(file, markdown);
      progress.log('run', `table written to ${file}`);
      return { kind: 'markdown', markdown };
    };
  },
};

function render(rows: Row[], startedAt: Date, built: string, quick: boolean): string {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readOrEmpty('/proc/cpuinfo'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '# hexfleet nearby benchmark (in-process)',
    '',
    `Run ${startedAt.toISOString()} with \`${commandLine('bench:nearby', process.argv.slice(3))}\` (${quick ? 'quick' : 'full'} run) on ${built}.`,
    '',
    `Machine: ${os.availableParallelism()} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}; Node.js ${process.version}. ` +
      'One process, one JS thread; "other processes" says how much of the machine the rest of it used meanwhile.',
    '',
    '| Scenario | Figure | Value | Target | Met |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.scenario)} | ${cell(r.figure)} | ${cell(r.value)} | ${cell(r.target ?? '')} | ${r.met === undefined ? '' : r.met ? 'met' : '**not met**'} |`),
    '',
  ].join('\n');
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
