import { stopAllChildren } from '../../kit/child-processes.js';
import type { BenchSession } from './bench-session.js';
import type { Progress } from './clock.js';
import type { FlagSet, OwnValues, RunOptions } from './options.js';
import type { MachineInfo, Row } from './report.js';

/**
 * One benchmark suite of `node dist/bench/run.js <suite>` (bench/suites/):
 * its flags, how it sets up, which scenarios (bench/scenarios/) it runs and
 * what it hands back. The runner (bench/run.ts) owns everything around it:
 * parsing, the session (temp dir, Redis, clean-up), progress, the report
 * file, exit codes.
 */
export interface Suite {
  /** `node dist/bench/run.js <name>`, `npm run bench:<name>`. */
  readonly name: string;
  /** What it measures, one sentence (the runner's --help lists them). */
  readonly summary: string;
  readonly flags: FlagSet;
  /** What the suite reads from the environment besides BENCH_* (its --help's last paragraph). */
  readonly environment?: string;
  /**
   * `report`: progress on stdout, then a table printed and written to
   * bench/results/. `markdown`: stdout carries the suite's markdown only
   * (bench:match reads the solver's from a child), progress goes to stderr.
   */
  readonly output: 'report' | 'markdown';
  /** Validates the suite's own flags (throws UsageError) and returns the run, ready to start. */
  prepare(common: RunOptions, own: OwnValues): (ctx: RunContext) => Promise<SuiteOutput>;
}

/** What the runner gives a suite's run. */
export interface RunContext {
  session: BenchSession;
  progress: Progress;
}

export type SuiteOutput = ReportOutput | MarkdownOutput;

/** A table of figures, written to bench/results/<fileName> and printed. */
export interface ReportOutput {
  kind: 'report';
  /** The report's heading; default "hexfleet ingest benchmark". */
  title?: string;
  machine: MachineInfo;
  /** What kind of run this was (quick, partial, waited for quiet…), for the report's first line. */
  runKind: string;
  rows: Row[];
  notes: string[];
  /** Markdown after the notes (bench:match: the solver's own table). */
  appendix: string[];
  fileName: string;
  /** A scenario crashed (its row says so): the run exits 1. */
  crashed: boolean;
}

/** Markdown printed as is (the solver and resolution tables). */
export interface MarkdownOutput {
  kind: 'markdown';
  markdown: string;
}

/** One scenario of a suite: a file of bench/scenarios/. */
export interface Scenario<C> {
  /** Its label in progress lines and in the crashed row. */
  name: string;
  run(ctx: C): Promise<Row[]>;
}

/**
 * Runs scenarios in turn. One that throws is a result, not the end of the
 * run: its row says "crashed", every child process it left is stopped, and
 * the next scenario runs.
 */
export async function runScenarios<C extends { progress: Progress }>(ctx: C, scenarios: readonly Scenario<C>[]): Promise<{ rows: Row[]; crashed: boolean }> {
  const rows: Row[] = [];
  let crashed = false;
  for (const { name, run } of scenarios) {
    ctx.progress.log(name, 'start');
    try {
      rows.push(...(await run(ctx)));
    } catch (err) {
      crashed = true;
      ctx.progress.log(name, `CRASHED: ${(err as Error).stack ?? (err as Error).message}`);
      rows.push({ scenario: name, figure: 'crashed', value: (err as Error).message.split('\n')[0] ?? '' });
      await stopAllChildren();
    }
  }
  return { rows, crashed };
}
