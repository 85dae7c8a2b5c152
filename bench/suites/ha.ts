/**
 * `npm run bench:ha`: Redis high availability, each figure with its baseline
 * from the same run.
 *
 *   A failover        kill -9 of the primary under ingest and matching (gateway
 *                     in its own process): gap until the first ack, acked pings
 *                     lost, drivers reserved twice, errors by code
 *   B durability      ingest throughput and ack latency, MIN_REPLICAS_ACK 1 ÷ 0
 *   C wait connection read latency next to WAIT: one shared connection against
 *                     a dedicated write connection, replica healthy and stalled
 *
 * The engine is a parameter (--engine): every scenario runs on an HaTopology
 * (scenarios/ha-context.ts): sentinel (default) or cluster. A missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { describeGatewayEnv, makeGatewayEnv } from '../lib/gateway-env.js';
import { gitState } from '../lib/git-state.js';
import { type OwnValues, positive, type RunOptions, UsageError } from '../lib/options.js';
import { machineInfo } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { ClusterTopology, type HaContext, type HaOptions, type HaTopology, SentinelTopology } from '../scenarios/ha-context.js';
import { runDurability } from '../scenarios/ha-durability.js';
import { runFailover } from '../scenarios/ha-failover.js';
import { runWaitConnection } from '../scenarios/ha-wait-connection.js';

const SCENARIOS: Record<string, Scenario<HaContext> & { help: string }> = {
  A: { name: 'A failover', run: runFailover, help: 'kill -9 of the primary under load: gap, acked lost, double reservations, errors' },
  B: { name: 'B durability', run: runDurability, help: 'ingest throughput and ack latency with MIN_REPLICAS_ACK 1 against 0' },
  C: { name: 'C wait connection', run: runWaitConnection, help: 'read latency beside WAIT: shared against dedicated connection, replica healthy and stalled' },
};

/** The engines --engine accepts, each with how to start its topology. */
const ENGINES: Record<string, () => Promise<HaTopology>> = {
  // down-after 1000 ms: the issue's aggressive detection (platform-facts.md measured ≈ 3.4 s to writes again).
  sentinel: () => SentinelTopology.start(1000),
  // The same Berlin site as the failover scenario's fleet: its shard is the one killed.
  cluster: () => ClusterTopology.start({ lat: 52.52, lng: 13.405 }),
};

/** Set by the run per gateway: taken from the environment they would point the gateways elsewhere. */
const OWN_VARIABLES = ['HEXFLEET_STORE', 'HEXFLEET_REDIS_SENTINELS', 'HEXFLEET_REDIS_MASTER_NAME', 'HEXFLEET_REDIS_MIN_REPLICAS_ACK', 'HEXFLEET_REDIS_CLUSTER'];

export const haSuite: Suite = {
  name: 'ha',
  summary:
    'Redis high availability: the failover gap after kill -9 of the primary under ingest and matching (acked pings lost, drivers reserved twice); ' +
    'the cost of HEXFLEET_REDIS_MIN_REPLICAS_ACK=1 against 0; read latency beside WAIT on a shared or a dedicated connection.',
  flags: {
    quick: 'smoke run: 1 failover, 1 pair of 3 s windows in B, 2 s windows in C (results go to ha-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 3, quick: 1, help: 'load before each kill (A), warm-up before each window (B, C)' },
    duration: { full: 10, quick: 2, help: 'each measured window of B and C' },
    waitQuiet: 'before each measured window of B, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir with the gateway logs',
    own: [
      { name: 'engine', arg: 'NAME', help: `the HA engine: ${Object.keys(ENGINES).join(', ')} (default sentinel)` },
      { name: 'repeats', arg: 'N', help: 'A: failovers, one after the other (default 3; 1 with --quick)' },
      { name: 'pairs', arg: 'N', help: 'B: pairs of closed-loop windows (MIN_REPLICAS_ACK 0 and 1), the order flipping each pair (default 2; 1 with --quick)' },
    ],
  },
  environment:
    'BENCH_GATEWAY_NODE_ARGS adds node flags to the gateway processes. HEXFLEET_* variables set in the environment are passed to the gateways ' +
    `and listed in the report, except ${OWN_VARIABLES.join(', ')}, which the run sets itself (it refuses them).`,
  output: 'report',
  prepare(common, own) {
    const options = haOptions(common, own);
    const engine = own.engine ?? 'sentinel';
    const startTopology = ENGINES[engine];
    if (!startTopology) throw new UsageError(`--engine must be one of ${Object.keys(ENGINES).join(', ')}, got "${engine}"`);
    const taken = OWN_VARIABLES.filter((k) => process.env[k] !== undefined);
    if (taken.length > 0) throw new UsageError(`${taken.join(', ')} must not be set: the run starts its own Redis group and sets them per gateway`);
    return async ({ session, progress }) => {
      const built = gitState();
      progress.log('run', `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}; starting the ${engine} topology`);
      const topology = await startTopology();
      session.onCleanup(() => topology.stop());
      const redis = await topology.primary();
      const jwtSecret = randomBytes(32).toString('hex');
      const base = makeGatewayEnv(redis.url, jwtSecret, process.env);
      const gatewayEnv = (prefix: string, settings: Record<string, string> = {}): Record<string, string> =>
        base.gatewayEnv(prefix, { ...topology.gatewayEnv(), ...settings });
      const ctx: HaContext = { options, topology, redis, tmpDir: session.tmpDir, progress, jwtSecret, gatewayEnv, gatewayConfig: base.gatewayConfig };
      const machine = await machineInfo(redis);
      const { rows, crashed } = await runScenarios(ctx, options.scenarios.map((s) => SCENARIOS[s]!));

      const notes = [
        `Code: ${built} when the run started (\`npm run build\` compiles the working tree).`,
        `${topology.description}. Every process (Redis nodes, Sentinels, gateways, load generators, this runner) shares the machine's cores.`,
        'A: the gap is from the SIGKILL to the first ack of a batch sent after it; with HEXFLEET_REDIS_MIN_REPLICAS_ACK=1 and one replica it includes the killed node\'s ' +
          'restart as a replica (until a replica is back, the promoted primary acks nothing). Acks are checked after the last round on the node that is primary then, read directly.',
        'B: latency is send → ack at the load generator; CPU is utime + stime from /proc/<pid>/stat over the window, in % of one core.',
        `Gateways run \`node dist/src/cli.js serve\` with ${describeGatewayEnv(gatewayEnv('…'))}.`,
      ];
      if (Object.keys(base.userOverrides).length > 0) notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(base.userOverrides).join(', ')}.`);
      const all = options.scenarios.length === Object.keys(SCENARIOS).length;
      const runKind = [
        options.quick ? 'quick smoke run' : 'full run',
        `engine ${engine}`,
        all ? 'all scenarios' : `scenarios ${options.scenarios.join(', ')} only`,
        ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
      ].join(', ');
      const fileName = `ha-${engine}-${options.quick ? 'quick' : 'latest'}${all ? '' : `-${options.scenarios.join('')}`}.md`;
      return { kind: 'report', title: 'hexfleet high-availability benchmark', machine, runKind, rows, notes, appendix: [], fileName, crashed };
    };
  },
};

function haOptions(common: RunOptions, own: OwnValues): HaOptions {
  const quick = common.quick;
  const whole = (flag: string, raw: string | undefined, def: number, max: number): number => {
    const n = positive(flag, raw, def, max);
    if (!Number.isInteger(n)) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${n}`);
    return n;
  };
  return {
    ...common,
    // 300 drivers sending 4 pings every 200 ms (6,000 pings/s) and 4 match loops: a busy city on one gateway, well below saturation,
    // so the gap measures the failover, not a queue draining.
    failover: { repeats: whole('--repeats', own.repeats, quick ? 1 : 3, 20), drivers: quick ? 100 : 300, batchPings: 4, periodMs: 200, matchers: 4 },
    // Closed loop: bench:ingest's A shape. Open loop: 2,000 drivers × 4 pings every second (8,000 pings/s).
    durability: {
      drivers: 1000, batchPings: 50, depth: 2, pairs: whole('--pairs', own.pairs, quick ? 1 : 2, 20),
      openDrivers: quick ? 500 : 2000, openPeriodMs: 1000, openBatchPings: 4,
    },
    // 100 driver batches per write, as a gateway's flush under moderate load; 4 in flight as HEXFLEET_INGEST_MAX_INFLIGHT.
    waitConnection: { batchDrivers: 100, inflight: 4, stallS: quick ? 2 : 3 },
  };
}
