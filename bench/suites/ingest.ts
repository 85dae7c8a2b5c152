/**
 * `npm run bench:ingest`: the ingest benchmark of issue 2.
 *
 *   A throughput  one gateway, 1,000 drivers, batches of 50, closed loop,
 *                 and the Redis-only ceiling of the same writes (baseline)
 *   B latency     20,000 drivers, a batch of 4 pings every 4 s each
 *                 (20,000 pings/s), open loop, 2 gateways
 *   C memory      Redis and memory-store bytes per driver at 1,000,000
 *
 * A missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { describeGatewayEnv, makeGatewayEnv } from '../lib/gateway-env.js';
import type { IngestContext, IngestOptions } from '../lib/ingest-context.js';
import type { RunOptions } from '../lib/options.js';
import { machineInfo } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { runLatency } from '../scenarios/latency.js';
import { runMemory } from '../scenarios/memory.js';
import { runThroughput } from '../scenarios/throughput.js';

/** The scenarios by their --scenario name, in the order a run measures them. */
const SCENARIOS: Record<string, Scenario<IngestContext> & { help: string }> = {
  A: { name: 'A throughput', run: runThroughput, help: 'throughput (and the Redis-only ceiling)' },
  B: { name: 'B latency', run: runLatency, help: 'latency' },
  C: { name: 'C memory', run: runMemory, help: 'memory' },
};

export const ingestSuite: Suite = {
  name: 'ingest',
  summary:
    'Ping ingest: end to end through real WebSockets into a real Redis against the store\'s write path alone; ' +
    'ack latency at 20,000 drivers; Redis and memory-store bytes per driver at 1,000,000.',
  flags: {
    quick: 'short smoke run: 1 s warm-up, 3 s measured, 2,000 drivers in B, 100,000 drivers in C (results go to ingest-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 3, quick: 1, help: 'warm-up before each measured window' },
    duration: { full: 15, quick: 3, help: 'measured window of A, its ceiling and B' },
    waitQuiet: 'before each measured window, wait up to this long for processes outside the benchmark to go quiet (shared machines; default 0 = start at once)',
    keepLogs: 'keep the temp dir with the gateway logs and Redis data (its path is printed); set HEXFLEET_LOG_LEVEL=info to see every connection event',
  },
  environment:
    'BENCH_GATEWAY_NODE_ARGS adds node flags to the gateway processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them). ' +
    'HEXFLEET_* variables set in the environment are passed to the gateways (on top of the benchmark\'s own settings) and listed in the report.',
  output: 'report',
  prepare(common) {
    const options = ingestOptions(common);
    return async ({ session, progress }) => {
      progress.log('run', `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}; starting redis-server`);
      const redis = await session.startRedis();
      const jwtSecret = randomBytes(32).toString('hex');
      const { gatewayEnv, gatewayConfig, userOverrides } = makeGatewayEnv(redis.url, jwtSecret, process.env);
      const ctx: IngestContext = { options, redis, tmpDir: session.tmpDir, progress, jwtSecret, gatewayEnv, gatewayConfig };
      const machine = await machineInfo(redis);
      const { rows, crashed } = await runScenarios(ctx, options.scenarios.map((s) => SCENARIOS[s]!));

      const notes = [
        'Each figure is measured over its window only; after a window every batch still in flight is drained and counted (errors row).',
        'CPU is utime + stime from /proc/<pid>/stat over the window, in % of one core; "machine busy" is /proc/stat over all cores; ' +
          '"other processes" is what the machine spent outside this benchmark: well above 0, the cores were shared and every figure is low.',
        `Gateways run \`node dist/src/cli.js serve\` with ${describeGatewayEnv(gatewayEnv('…'))}.`,
      ];
      if (Object.keys(userOverrides).length > 0) {
        notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(userOverrides).join(', ')}.`);
      }
      const all = options.scenarios.length === Object.keys(SCENARIOS).length;
      const runKind = [
        options.quick ? 'quick smoke run' : 'full run',
        all ? 'all scenarios' : `scenarios ${options.scenarios.join(', ')} only`,
        ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
      ].join(', ');
      // A full run of every scenario is the reference (ingest-latest.md); a smoke or partial run never overwrites it.
      const fileName = `ingest-${options.quick ? 'quick' : 'latest'}${all ? '' : `-${options.scenarios.join('')}`}.md`;
      return { kind: 'report', machine, runKind, rows, notes, appendix: [], fileName, crashed };
    };
  },
};

function ingestOptions(common: RunOptions): IngestOptions {
  const quick = common.quick;
  return {
    ...common,
    // 1,000 drivers × 2 batches of 50 in flight = 100,000 pings in flight: several
    // full store writes (4 × 4,096) queued at all times, and under the gateway's
    // 200,000-ping pending bound, so the gateway is never starved nor refusing.
    throughput: { drivers: 1000, batchPings: 50, depth: 2, loadgens: 1, ceilingInflight: 4 },
    // Issue 2: 20,000 pings/s over 20,000 drivers sending batches of 4, i.e. each
    // driver takes 1 fix/s and uploads 4 every 4 s. 20,000 sockets cannot live in
    // one process (open-file limit 20,000), hence 4 × 5,000 and 2 × 10,000.
    latency: { drivers: quick ? 2000 : 20_000, batchPings: 4, periodMs: 4000, loadgens: 4, gateways: 2 },
    memory: { drivers: quick ? 100_000 : 1_000_000, metroSideKm: 30 },
  };
}
