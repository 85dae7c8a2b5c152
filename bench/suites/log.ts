/**
 * `npm run bench:log`: the event log's cost, each figure against a baseline
 * measured in the same run.
 *
 *   L1 throughput  bench:ingest's A shape, log off and log on in alternating windows
 *   L2 latency     bench:ingest's B shape (20,000 drivers, 2 gateways), log off then on
 *   L3 replay      1,000,000 positions written to the log, `hexfleet replay` into an
 *                  empty prefix, every driver verified; the Redis-only apply rate
 *   L4 orders      500 order transitions/s through the match API: commit → outbox →
 *                  relay → Kafka → notifier → webhook, per event
 *
 * One redis-server and one single-node Kafka (kit/kafka-broker.ts) for the
 * whole run. A missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KAFKA_VERSION, KafkaBroker } from '../../kit/kafka-broker.js';
import { describeGatewayEnv, makeGatewayEnv } from '../lib/gateway-env.js';
import { gitState } from '../lib/git-state.js';
import type { LogContext, LogOptions } from '../lib/log-context.js';
import { type OwnValues, positive, type RunOptions, UsageError } from '../lib/options.js';
import { machineInfo } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { runLogLatency } from '../scenarios/log-latency.js';
import { runLogOrderEvents } from '../scenarios/log-order-events.js';
import { runLogReplay } from '../scenarios/log-replay.js';
import { runLogThroughput } from '../scenarios/log-throughput.js';

/** The scenarios by their --scenario name, in the order a run measures them. */
const SCENARIOS: Record<string, Scenario<LogContext> & { help: string }> = {
  L1: { name: 'L1 throughput', run: runLogThroughput, help: 'ingest throughput, log on ÷ log off, alternating windows' },
  L2: { name: 'L2 latency', run: runLogLatency, help: 'ack latency at 20,000 drivers, log off then on' },
  L3: { name: 'L3 replay', run: runLogReplay, help: 'replay rate into an empty prefix, every driver verified, and the Redis-only rate' },
  L4: { name: 'L4 order events', run: runLogOrderEvents, help: 'order transition → webhook latency at 500 transitions/s' },
};

/** Set by the run itself per gateway: one taken from the environment would turn the log on for the "off" gateways too. */
const OWN_VARIABLES = ['HEXFLEET_KAFKA_BROKERS', 'HEXFLEET_KAFKA_TOPIC_PREFIX'];

export const logSuite: Suite = {
  name: 'log',
  summary:
    'Event log (Kafka): ingest throughput and ack latency with the log on against off in the same run; ' +
    'hexfleet replay rate from 1,000,000 logged positions into Redis, verified, against the Redis-only apply rate; ' +
    'order transition → webhook latency at 500 transitions/s.',
  flags: {
    quick: 'smoke run: 1 pair of 3 s windows in L1, 2,000 drivers in L2, 100,000 positions in L3, 2,000 parked drivers in L4 (results go to log-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 3, quick: 1, help: 'warm-up before each window of L1, L2 and L4 (L2: at least one 4 s period)' },
    duration: { full: 10, quick: 3, help: 'each measured window of L1, L2 and L4' },
    waitQuiet: 'before each measured window and each replay, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir with the gateway logs, the Kafka data and broker log, and the Redis data',
    own: [
      { name: 'pairs', arg: 'N', help: 'L1: pairs of windows (log off + log on), the order flipping each pair (default 3; 1 with --quick)' },
      { name: 'replay-positions', arg: 'N', help: 'L3: positions written and replayed for each record size (default 1,000,000; 100,000 with --quick)' },
      {
        name: 'pings-per-record',
        arg: 'LIST',
        help: 'L3: the record sizes to measure, each driver having 5 records (default 4,1: a phone\'s batch of 4 as B\'s drivers send it, then every position its own record)',
      },
      { name: 'order-rate', arg: 'N', help: 'L4: order transitions/s offered, 3 per match + cancel cycle (default 500)' },
    ],
  },
  environment:
    'BENCH_GATEWAY_NODE_ARGS adds node flags to the gateway processes. HEXFLEET_* variables set in the environment are passed to the gateways ' +
    `and listed in the report, except ${OWN_VARIABLES.join(' and ')}, which the run sets itself (it refuses them). Needs Java 17+ and the Kafka ${KAFKA_VERSION} jars (bash scripts/kafka/install.sh).`,
  output: 'report',
  prepare(common, own) {
    const options = logOptions(common, own);
    const taken = OWN_VARIABLES.filter((k) => process.env[k] !== undefined);
    if (taken.length > 0) throw new UsageError(`${taken.join(' and ')} must not be set: the run starts its own Kafka and decides which gateways log to it`);
    return async ({ session, progress }) => {
      const built = gitState();
      progress.log('run', `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}; starting redis-server and Kafka ${KAFKA_VERSION}`);
      const redis = await session.startRedis();
      const kafka = await KafkaBroker.start({ dataDir: join(session.tmpDir, 'kafka') });
      session.onCleanup(() => kafka.stop());
      progress.log('run', `Kafka on ${kafka.brokers} (pid ${kafka.pid})`);
      const jwtSecret = randomBytes(32).toString('hex');
      const base = makeGatewayEnv(redis.url, jwtSecret, process.env);
      const gatewayEnv = (prefix: string, topicPrefix?: string, settings: Record<string, string> = {}): Record<string, string> =>
        base.gatewayEnv(prefix, { ...(topicPrefix ? { HEXFLEET_KAFKA_BROKERS: kafka.brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: topicPrefix } : {}), ...settings });
      const ctx: LogContext = { options, redis, kafka, tmpDir: session.tmpDir, progress, jwtSecret, gatewayEnv, gatewayConfig: base.gatewayConfig };
      const machine = await machineInfo(redis);
      const { rows, crashed } = await runScenarios(ctx, options.scenarios.map((s) => SCENARIOS[s]!));

      const notes = [
        `Code: ${built} when the run started (\`npm run build\` compiles the working tree).`,
        `Kafka: Apache Kafka ${KAFKA_VERSION}, one KRaft node (broker and controller in one JVM, -Xms256m -Xmx1g, 2 network and 2 I/O threads) on this machine, ` +
          'topics with replication factor 1, so acks=all is the leader\'s own write (to the page cache: Kafka does not fsync per append by default, as Redis here fsyncs once a second). ' +
          'Its JVM is measured as "kafka".',
        'Each figure is measured over its window only; after a window every batch still in flight is drained and counted (errors rows).',
        'CPU is utime + stime from /proc/<pid>/stat over the window, in % of one core; "machine busy" is /proc/stat over all cores; ' +
          '"other processes" is what the machine spent outside this benchmark: well above 0, the 2 cores were shared and every figure is low. ' +
          'Every process (load generators, gateways, Redis, Kafka) shares the 2 cores.',
        'Log append latency comes from the gateways\' hexfleet_log_append_seconds histogram (buckets 1, 2.5, 5, 10, 25, 50, 100 ms …): a percentile is known to lie in its bucket ' +
          'and is placed in it by linear interpolation, as PromQL\'s histogram_quantile does; the mean is exact (sum ÷ count).',
        `Gateways run \`node dist/src/cli.js serve\` with ${describeGatewayEnv(gatewayEnv('…'))}; with the log on, also HEXFLEET_KAFKA_BROKERS and HEXFLEET_KAFKA_TOPIC_PREFIX ` +
          '(other Kafka settings at their defaults: HEXFLEET_KAFKA_PARTITIONS=6, HEXFLEET_KAFKA_TIMEOUT_MS=5000).',
      ];
      if (Object.keys(base.userOverrides).length > 0) notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(base.userOverrides).join(', ')}.`);
      const all = options.scenarios.length === Object.keys(SCENARIOS).length;
      const runKind = [
        options.quick ? 'quick smoke run' : 'full run',
        all ? 'all scenarios' : `scenarios ${options.scenarios.join(', ')} only`,
        ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
      ].join(', ');
      // A full run of every scenario is the reference (log-latest.md); a smoke or partial run never overwrites it.
      const fileName = `log-${options.quick ? 'quick' : 'latest'}${all ? '' : `-${options.scenarios.join('')}`}.md`;
      return { kind: 'report', title: 'hexfleet event log benchmark', machine, runKind, rows, notes, appendix: [], fileName, crashed };
    };
  },
};

function logOptions(common: RunOptions, own: OwnValues): LogOptions {
  const quick = common.quick;
  const recordsPerDriver = 5;
  const positions = Math.round(positive('--replay-positions', own['replay-positions'], quick ? 100_000 : 1_000_000, 20_000_000));
  const sizes = (own['pings-per-record'] ?? '4,1').split(',').map((v) => Number(v.trim()));
  for (const k of sizes) {
    if (!Number.isInteger(k) || k < 1 || k > 50) throw new UsageError(`--pings-per-record must list whole numbers from 1 to 50, got "${own['pings-per-record']}"`);
    if (positions % (recordsPerDriver * k) !== 0) throw new UsageError(`--replay-positions must be a multiple of ${recordsPerDriver * k} (${recordsPerDriver} records of ${k} pings per driver), got ${positions}`);
  }
  const pairs = positive('--pairs', own.pairs, quick ? 1 : 3, 50);
  if (!Number.isInteger(pairs)) throw new UsageError(`--pairs must be a whole number from 1 to 50, got ${pairs}`);
  return {
    ...common,
    // bench:ingest's A: 1,000 drivers × 2 batches of 50 in flight keep several full 4,096-ping writes queued (see suites/ingest.ts).
    throughput: { drivers: 1000, batchPings: 50, depth: 2, pairs },
    // bench:ingest's B: 20,000 pings/s from 20,000 drivers sending 4 pings every 4 s; 4 × 5,000 sockets under the 20,000 open-file limit.
    latency: { drivers: quick ? 2000 : 20_000, batchPings: 4, periodMs: 4000, loadgens: 4, gateways: 2 },
    // 10,000 pings per append: ~100 kB per partition's record batch whatever the record size, under the broker's 1 MB limit.
    replay: { positions, recordsPerDriver, pingsPerRecord: sizes, pingsPerAppend: 10_000 },
    // 32 connections, as bench:match's fixed-rate runs: each has a 190 ms slot per cycle, so a slow
    // match + cancel round trip delays its own next cycle only, not the offered rate.
    orders: { transitionsPerS: positive('--order-rate', own['order-rate'], 500, 10_000), parkedDrivers: quick ? 2000 : 10_000, connections: 32 },
  };
}
