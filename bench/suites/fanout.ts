/**
 * `npm run bench:fanout`: issue 10's fan-out figure, one scenario
 * (scenarios/fanout.ts): what one gateway can follow (positions/s decoded
 * and applied on one core) and what a follower of one market out of M pays
 * against one that follows every area, in the same run.
 * A missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { describeGatewayEnv, makeGatewayEnv } from '../lib/gateway-env.js';
import { type OwnValues, positive, type RunOptions, UsageError } from '../lib/options.js';
import { machineInfo } from '../lib/report.js';
import { runScenarios, type Suite } from '../lib/suite.js';
import { CPU_SATURATED_PCT, DELAY_P99_LIMIT_MS, type FanoutContext, type FanoutOptions, runFanout } from '../scenarios/fanout.js';

const PREFIX = 'hfbench-fanout';

export const fanoutSuite: Suite = {
  name: 'fanout',
  summary:
    'Position fan-out by area: one publisher at increasing rates, a follower gateway of every area and one of a single market: ' +
    'positions/s decoded, CPU per position, read-index delay; where the follower of every area saturates.',
  flags: {
    quick: 'smoke run: rates 5,000 and 20,000, 1 s warm-up, 2 s measured (results go to fanout-quick.md)',
    warmup: { full: 2, quick: 1, help: 'warm-up of each rate' },
    duration: { full: 8, quick: 2, help: 'measured window of each rate' },
    waitQuiet: 'before each window, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir with the gateway logs and Redis data',
    own: [
      { name: 'rates', arg: 'LIST', help: 'publish rates in positions/s, comma-separated, tried in turn (default 5000,10000,20000,40000,80000)' },
      { name: 'markets', arg: 'N', help: 'markets the positions are spread over, evenly (default 8, at most 16)' },
      { name: 'drivers-per-market', arg: 'N', help: 'drivers in each market (default 1,000)' },
    ],
  },
  environment: 'HEXFLEET_* variables set in the environment are passed to the follower gateways and listed in the report.',
  output: 'report',
  prepare(common, own) {
    const options = fanoutOptions(common, own);
    return async ({ session, progress }) => {
      const redis = await session.startRedis();
      const { gatewayEnv, userOverrides } = makeGatewayEnv(redis.url, randomBytes(32).toString('hex'), process.env);
      const env = (settings: Record<string, string>): Record<string, string> => gatewayEnv(PREFIX, { HEXFLEET_RECONCILE_INTERVAL_MS: '0', ...settings });
      const ctx: FanoutContext = { options, redis, tmpDir: session.tmpDir, progress, env };
      const machine = await machineInfo(redis);
      const { rows, crashed } = await runScenarios(ctx, [{ name: 'fanout', run: runFanout }]);
      const notes = [
        'Decoded: hexfleet_position_bus_positions_received_total of each follower over the window (positions of other gateways\' messages it unpacked); bytes: _bytes_received_total. ' +
          'ONE\'s ratios are against ALL in the same window: what following one market out of M saves in decoding.',
        `CPU is utime + stime from /proc/<pid>/stat over the window, in % of one core; µs/position = CPU time ÷ positions decoded (it includes applying them to the read index, ` +
          'the gateway\'s idle timers and the metrics scrapes). "Other processes" is what the machine spent outside this benchmark: the 2 cores are shared with other engineers\' test runs, so every figure is pessimistic.',
        `Delay: hexfleet_read_index_delay_seconds (publish → applied in the follower's read index, one clock), estimated within its Prometheus buckets. The ladder stops after the first rate where ALL's CPU reaches ` +
          `${CPU_SATURATED_PCT} % of a core or where the publisher reaches less than half the rate (then this machine, not the follower, is the limit, and "one core would decode" extrapolates from the CPU per position above idle); ` +
          `a delay p99 past ${DELAY_P99_LIMIT_MS} ms is recorded and the ladder goes on, since on this shared machine it can be another process's doing.`,
        'The publisher is one process calling RedisPositionBus.publish as the ingest pipeline does after each store write, without the write; publisher, Redis and both followers share the 2 cores.',
        `Followers run \`node dist/src/cli.js serve\` with ${describeGatewayEnv(env({}))}; ONE adds HEXFLEET_MARKETS.`,
      ];
      if (Object.keys(userOverrides).length > 0) notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(userOverrides).join(', ')}.`);
      return {
        kind: 'report', title: 'hexfleet position fan-out benchmark', machine, runKind: [options.quick ? 'quick smoke run' : 'full run', ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : [])].join(', '),
        rows, notes, appendix: [], fileName: `fanout-${options.quick ? 'quick' : 'latest'}.md`, crashed,
      };
    };
  },
};

function fanoutOptions(common: RunOptions, own: OwnValues): FanoutOptions {
  const raw = own.rates ?? (common.quick ? '5000,20000' : '5000,10000,20000,40000,80000');
  const rates = raw.split(',').map((s) => Number(s.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r < 1 || r > 10_000_000)) throw new UsageError(`--rates must be a comma list of whole numbers of positions/s (1 to 10,000,000), got "${raw}"`);
  return {
    ...common,
    rates,
    markets: Math.round(positive('--markets', own.markets, 8, 16)),
    driversPerMarket: Math.round(positive('--drivers-per-market', own['drivers-per-market'], 1000, 100_000)),
  };
}
