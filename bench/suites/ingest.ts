/**
 * `npm run bench:ingest`: the ingest benchmark of issue 2.
 *
 *   A throughput  one gateway, 1,000 drivers, batches of 50, closed loop,
 *                 and the Redis-only ceiling of the same writes (baseline)
 *   B latency     20,000 drivers, a batch of 4 pings every 4 s each
 *                 (20,000 pings/s), open loop, 2 gateways
 *   C memory      Redis and memory-store bytes per driver at 1,000,000
 *
 * Starts its own redis-server, runs each scenario (every process it starts is
 * stopped at the end, also on Ctrl-C or a crash), prints a markdown table and
 * writes it to bench/results/. Exits non-zero only if something crashed; a
 * missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { runLatency } from './latency.js';
import { RedisMissingError } from './lib/bench-redis.js';
import { BenchSession } from './lib/bench-session.js';
import { stopAllChildren } from './lib/children.js';
import { Progress } from './lib/clock.js';
import { type BenchContext, makeGatewayEnv } from './lib/context.js';
import { type BenchOptions, parseOptions, type Scenario, USAGE, UsageError } from './lib/options.js';
import { commandLine, machineInfo, publishReport, renderReport, type Row } from './lib/report.js';
import { runMemory } from './memory.js';
import { runThroughput } from './throughput.js';


const SCENARIO_RUNNERS: Record<Scenario, { name: string; run: (ctx: BenchContext) => Promise<Row[]> }> = {
  A: { name: 'A throughput', run: runThroughput },
  B: { name: 'B latency', run: runLatency },
  C: { name: 'C memory', run: runMemory },
};

async function main(): Promise<number> {
  let options: BenchOptions & { help: boolean };
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`bench:ingest: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }

  const progress = new Progress();
  const startedAt = new Date();
  const session = new BenchSession(progress, options.keepLogs);
  const { tmpDir } = session;
  const cleanup = (): Promise<void> => session.cleanup();

  let crashed = false;
  try {
    progress.log('run', `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}; starting redis-server`);
    const redis = await session.startRedis();
    const jwtSecret = randomBytes(32).toString('hex');
    const { gatewayEnv, gatewayConfig, userOverrides } = makeGatewayEnv(redis.url, jwtSecret, process.env);
    const ctx: BenchContext = { options, redis, tmpDir, progress, jwtSecret, gatewayEnv, gatewayConfig, userOverrides };
    const machine = await machineInfo(redis);

    const rows: Row[] = [];
    for (const s of options.scenarios) {
      const { name, run } = SCENARIO_RUNNERS[s];
      progress.log(name, 'start');
      try {
        rows.push(...(await run(ctx)));
      } catch (err) {
        crashed = true;
        progress.log(name, `CRASHED: ${(err as Error).message}`);
        rows.push({ scenario: name, figure: 'crashed', value: (err as Error).message.split('\n')[0] ?? '' });
        await stopAllChildren();
      }
    }

    const notes = [
      'Each figure is measured over its window only; after a window every batch still in flight is drained and counted (errors row).',
      'CPU is utime + stime from /proc/<pid>/stat over the window, in % of one core; "machine busy" is /proc/stat over all cores; ' +
        '"other processes" is what the machine spent outside this benchmark: well above 0, the cores were shared and every figure is low.',
      `Gateways run \`node dist/src/cli.js serve\` with ${Object.entries(gatewayEnv('…'))
        .filter(([k]) => !/SECRET|REDIS_URL/.test(k))
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}.`,
    ];
    if (Object.keys(userOverrides).length > 0) {
      notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(userOverrides).join(', ')}.`);
    }
    const runKind = [
      options.quick ? 'quick smoke run' : 'full run',
      options.scenarios.length < 3 ? `scenarios ${options.scenarios.join(', ')} only` : 'all scenarios',
      ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
    ].join(', ');
    const command = commandLine('bench:ingest');
    const report = renderReport({ startedAt, command, runKind, machine, rows, notes });
    const file = publishReport(report, resultFileName(options));
    progress.log('run', `table written to ${file}`);
  } catch (err) {
    crashed = true;
    const known = err instanceof UsageError || err instanceof RedisMissingError;
    process.stderr.write(`bench:ingest: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  } finally {
    await cleanup();
  }
  return crashed ? 1 : 0;
}

/** A full run of every scenario is the reference (ingest-latest.md); a smoke or partial run never overwrites it. */
function resultFileName(o: BenchOptions): string {
  const partial = o.scenarios.length < 3 ? `-${o.scenarios.join('')}` : '';
  return `ingest-${o.quick ? 'quick' : 'latest'}${partial}.md`;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench:ingest: ${(err as Error).stack ?? String(err)}\n`);
    void stopAllChildren().finally(() => process.exit(1));
  },
);
