/**
 * The one entry point of the benchmarks:
 *
 *   node dist/bench/run.js <suite> [flags]      (npm run bench:<suite> [-- flags])
 *
 *   run.ts ──▶ suites/<suite>.ts ──▶ scenarios/*.ts ──▶ workers/*.ts (child processes)
 *   (flags, session, report, exit code)   (set-up, what to run, notes)
 *
 * It parses the flags (lib/options.ts), opens the session (a temp dir, the
 * suite's redis-server, and a clean-up that stops every process the run
 * started, also on Ctrl-C or a crash), runs the suite, then prints its
 * table and writes it to bench/results/ (or prints a suite's markdown).
 *
 * Exit codes: 0 done (a missed target is a result, not a failure); 1 a
 * scenario or the set-up crashed; 2 a usage error.
 */
import { stopAllChildren } from '../kit/child-processes.js';
import { RedisMissingError } from '../kit/redis-server.js';
import { BenchSession } from './lib/bench-session.js';
import { Progress } from './lib/clock.js';
import { parseRunOptions, suiteUsage, UsageError, wrap } from './lib/options.js';
import { commandLine, publishReport, renderReport } from './lib/report.js';
import type { Suite } from './lib/suite.js';
import { backupSuite } from './suites/backup.js';
import { clusterSuite } from './suites/cluster.js';
import { fanoutSuite } from './suites/fanout.js';
import { ingestSuite } from './suites/ingest.js';
import { haSuite } from './suites/ha.js';
import { logSuite } from './suites/log.js';
import { matchSuite } from './suites/match.js';
import { nearbySuite } from './suites/nearby.js';
import { nearbyHttpSuite } from './suites/nearby-http.js';
import { resolutionSuite } from './suites/resolution.js';
import { solverSuite } from './suites/solver.js';
import { trackingSuite } from './suites/tracking.js';
import { tokensSuite } from './suites/tokens.js';
import { floodSuite } from './suites/flood.js';
import { tlsSuite } from './suites/tls.js';
import { regionsSuite } from './suites/regions.js';

const SUITES: readonly Suite[] = [ingestSuite, matchSuite, trackingSuite, logSuite, haSuite, resolutionSuite, nearbySuite, nearbyHttpSuite, solverSuite, backupSuite, clusterSuite, fanoutSuite, floodSuite, tokensSuite, tlsSuite, regionsSuite];

const USAGE = [
  'node dist/bench/run.js <suite> [flags]   (npm run bench:<suite> [-- flags])',
  '',
  ...SUITES.map((s) => `  ${s.name.padEnd(12)}${wrap(s.summary, 80 - 14).replace(/\n/g, '\n' + ' '.repeat(14))}`),
  '',
  wrap(
    '`node dist/bench/run.js <suite> --help` lists the flags of a suite. Every run prints progress, then its table; ' +
      'ingest, match and tracking also write it to bench/results/ (<suite>-latest.md for a full run of every scenario, ' +
      '<suite>-quick.md for --quick). Run one benchmark at a time: they measure the whole machine.',
  ),
].join('\n');

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  const suite = SUITES.find((s) => s.name === name);
  if (!suite) {
    process.stderr.write(`bench: unknown suite "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  const usage = suiteUsage(suite.name, suite.summary, suite.flags, suite.environment);
  const tag = `bench:${suite.name}`;
  let start: ReturnType<Suite['prepare']>;
  let keepLogs: boolean;
  try {
    const { common, own, help } = parseRunOptions(suite.flags, args, process.env);
    if (help) {
      process.stdout.write(usage + '\n');
      return 0;
    }
    start = suite.prepare(common, own);
    keepLogs = common.keepLogs;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${tag}: ${err.message}\n\n${usage}\n`);
    return 2;
  }

  // A markdown suite's stdout is its table only (bench:match reads the solver's): progress goes to stderr.
  const progress = new Progress(suite.output === 'markdown' ? process.stderr : process.stdout);
  const startedAt = new Date();
  const session = new BenchSession(progress, keepLogs);
  let crashed = false;
  try {
    const out = await start({ session, progress });
    if (out.kind === 'markdown') {
      process.stdout.write(out.markdown);
    } else {
      crashed = out.crashed;
      const { title, machine, runKind, rows, notes } = out;
      const report = renderReport({ ...(title ? { title } : {}), startedAt, command: commandLine(tag, args), runKind, machine, rows, notes }) +
        out.appendix.map((a) => '\n' + a + '\n').join('');
      const file = publishReport(report, out.fileName);
      progress.log('run', `table written to ${file}`);
    }
  } catch (err) {
    crashed = true;
    const known = err instanceof RedisMissingError;
    process.stderr.write(`${tag}: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  } finally {
    await session.cleanup();
  }
  return crashed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    void stopAllChildren().finally(() => process.exit(1));
  },
);
