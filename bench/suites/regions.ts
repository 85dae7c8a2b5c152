/**
 * `npm run bench:regions`: cross-region replication (issue 12) on two
 * regions started on this machine by kit/region.ts, each with its own
 * redis-server, Kafka broker, gateway and inbound MirrorMaker 2.
 *
 *   R1 lag    10,000 pings/s into region a (open loop); b's replication lag p50/p99
 *   R2 cost   ingest throughput into a, replication on ÷ off, alternating windows
 *
 * A missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KAFKA_VERSION } from '../../kit/kafka-broker.js';
import { RegionSet } from '../../kit/region.js';
import { gitState } from '../lib/git-state.js';
import { type OwnValues, positive, type RunOptions, UsageError } from '../lib/options.js';
import { machineInfo } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { type RegionsBenchOptions, type RegionsContext, runRegionsCost, runRegionsLag } from '../scenarios/regions-replication.js';

const SCENARIOS: Record<string, Scenario<RegionsContext> & { help: string }> = {
  R1: { name: 'R1 lag', run: runRegionsLag, help: 'replication lag a → b p50/p99 at a fixed rate into a (default 10,000 pings/s)' },
  R2: { name: 'R2 cost', run: runRegionsCost, help: 'ingest throughput into a, replication on ÷ off, alternating windows' },
};

/** The run sets these per region itself; one taken from the environment would point both regions at one place. */
const OWN_VARIABLES = ['HEXFLEET_KAFKA_BROKERS', 'HEXFLEET_KAFKA_TOPIC_PREFIX', 'HEXFLEET_REGION', 'HEXFLEET_REPLICATE_FROM', 'HEXFLEET_REGION_ENDPOINTS', 'HEXFLEET_REDIS_PREFIX'];

/** As bench:ingest's gateways: the per-connection limits are not what is measured. */
const GATEWAY_SETTINGS: Record<string, string> = {
  HEXFLEET_RATE_PINGS_PER_SEC: '1000000', HEXFLEET_RATE_BURST: '10000000', HEXFLEET_FRAME_RATE_PER_SEC: '100000', HEXFLEET_FRAME_BURST: '1000000',
  HEXFLEET_MAX_BATCH: '500', HEXFLEET_INGEST_FLUSH_PINGS: '4096',
};

export const regionsSuite: Suite = {
  name: 'regions',
  summary: 'Cross-region replication on two regions of this machine (own Redis, Kafka, gateway and MirrorMaker 2 each): replication lag p50/p99 at 10,000 pings/s into one region, and ingest throughput with replication on ÷ off in the same run.',
  flags: {
    quick: 'smoke run: 2,000 pings/s in R1, 1 pair of windows in R2, short windows (results go to regions-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 3, quick: 1, help: 'warm-up before each window (R1: at least one 4 s period)' },
    duration: { full: 20, quick: 5, help: 'each measured window' },
    waitQuiet: 'before each measured window, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir with both regions\' gateway logs, Kafka data and Redis data',
    own: [
      { name: 'rate', arg: 'N', help: 'R1: pings/s offered into region a (default 10,000; 2,000 with --quick)' },
      { name: 'pairs', arg: 'N', help: 'R2: pairs of windows (replication off + on), the order flipping each pair (default 2; 1 with --quick)' },
    ],
  },
  environment: `HEXFLEET_* variables set in the environment are passed to every gateway, except ${OWN_VARIABLES.join(', ')}, which the run sets per region (it refuses them). ` +
    `Needs Java 17+ and the Kafka ${KAFKA_VERSION} jars with connect-mirror (bash scripts/kafka/install.sh).`,
  output: 'report',
  prepare(common, own) {
    const bench = regionsOptions(common, own);
    const taken = OWN_VARIABLES.filter((k) => process.env[k] !== undefined);
    if (taken.length > 0) throw new UsageError(`${taken.join(' and ')} must not be set: the run starts both regions and sets them per region`);
    return async ({ session, progress }) => {
      const built = gitState();
      progress.log('run', `scenarios ${common.scenarios.join(', ')}${common.quick ? ' (quick)' : ''}; starting two regions (redis-server, Kafka ${KAFKA_VERSION} each)`);
      const jwtSecret = randomBytes(32).toString('hex');
      const topicPrefix = 'hfbench-regions';
      const userOverrides: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (k.startsWith('HEXFLEET_') && v !== undefined) userOverrides[k] = v;
      const set = await RegionSet.start({
        names: ['a', 'b'], dir: join(session.tmpDir, 'regions'), jwtSecret, prefix: topicPrefix, gatewaysPerRegion: 1, gatewayLogs: true,
        env: { ...GATEWAY_SETTINGS, ...userOverrides },
      });
      session.onCleanup(() => set.stop());
      const [a, b] = [set.region('a'), set.region('b')];
      await a.startGateways();
      await b.startGateways();
      progress.log('run', 'gateways up; starting both mirrors (MirrorMaker 2)');
      await Promise.all([a.startMirror(), b.startMirror()]);
      const ctx: RegionsContext = { options: common, redis: a.redis, progress, a, b, jwtSecret, topicPrefix, bench };
      const machine = await machineInfo(a.redis);
      const load = (await import('node:os')).loadavg();
      const { rows, crashed } = await runScenarios(ctx, common.scenarios.map((s) => SCENARIOS[s]!));
      const notes = [
        `Code: ${built} when the run started (\`npm run build\` compiles the working tree).`,
        'Two regions on ONE machine: each its own redis-server (AOF everysec), single-node Kafka (KRaft, RF 1), one gateway (HEXFLEET_REGION, HEXFLEET_REPLICATE_FROM the other, ' +
          'HEXFLEET_REGION_ENDPOINTS both) and its inbound MirrorMaker 2 (connect-mirror 4.1.1, dedicated mode, `--clusters <own region>`, linger 0). No network between the ' +
          'regions but loopback: the lag is the pipeline\'s own (append in a → MirrorMaker fetch and produce → b\'s applier → b\'s Redis), not a WAN\'s.',
        'Lag: hexfleet_replication_lag_seconds of b\'s gateway (applied time in b − the record\'s timestamp in a\'s log, taken when a\'s append starts), buckets ' +
          '5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5 s …: a percentile lies in its bucket and is placed there by linear interpolation (as PromQL\'s histogram_quantile).',
        'CPU is utime + stime from /proc/<pid>/stat over the window, % of one core. Every process of both regions, the mirrors and the load generators share the 2 cores, ' +
          'so replication "on" costs region a here what in a deployment would mostly land in region b (the applier, b\'s Redis, the mirror\'s produce side).',
        `The machine is shared with other engineers running test suites: load average ${load.map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 min) when the scenarios started; ` +
          '"other processes" in the CPU rows is what they took during each window. Treat absolute rates as low bounds; the on ÷ off ratio compares windows taken alternately.',
      ];
      if (Object.keys(userOverrides).length > 0) notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(userOverrides).join(', ')}.`);
      const all = common.scenarios.length === Object.keys(SCENARIOS).length;
      const runKind = [common.quick ? 'quick smoke run' : 'full run', all ? 'all scenarios' : `scenarios ${common.scenarios.join(', ')} only`].join(', ');
      const fileName = `regions-${common.quick ? 'quick' : 'latest'}${all ? '' : `-${common.scenarios.join('')}`}.md`;
      return { kind: 'report', title: 'hexfleet cross-region replication benchmark', machine, runKind, rows, notes, appendix: [], fileName, crashed };
    };
  },
};

function regionsOptions(common: RunOptions, own: OwnValues): RegionsBenchOptions {
  const pairs = positive('--pairs', own.pairs, common.quick ? 1 : 2, 20);
  if (!Number.isInteger(pairs)) throw new UsageError(`--pairs must be a whole number from 1 to 20, got ${pairs}`);
  return {
    // bench:ingest's B shape: a batch of 4 every 4 s per driver, so 10,000 pings/s is 10,000 drivers.
    lag: { rate: positive('--rate', own.rate, common.quick ? 2000 : 10_000, 50_000), batchPings: 4, periodMs: 4000, loadgens: 2 },
    cost: { drivers: 1000, batchPings: 50, depth: 2, pairs },
  };
}
