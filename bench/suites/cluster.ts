/**
 * `npm run bench:cluster`: Redis Cluster against one Redis, same machine,
 * same run (issue 9's figure "ingest and nearby throughput on 3 shards ÷ one
 * standalone Redis").
 *
 *   ingest   DriverStore.applyBatches from writer processes (bench:ingest's
 *            ceiling shape) on each configuration (scenarios/cluster-ingest.ts)
 *   nearby   nearest 10 within 3 km over bench:match's 100,000 drivers, from
 *            reader processes (scenarios/cluster-nearby.ts)
 *   model    CPU per 1,000 operations of every process, and the projection
 *            to N shards on N machines (scenarios/cluster-model.ts)
 *
 * Configurations: one redis-server; a 3-primary cluster with a replica each
 * at area resolution 3 (a city is one area, on one shard) and 6 (the city
 * over every shard), MIN_REPLICAS_ACK 0 on all; and, for ingest, the
 * cluster at resolution 3 with MIN_REPLICAS_ACK 1 (the Cluster default).
 */
import { RedisCluster } from '../../kit/redis-cluster.js';
import { gitState } from '../lib/git-state.js';
import { type OwnValues, positive, type RunOptions, UsageError } from '../lib/options.js';
import { fmtPct, machineInfo } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { boxSpread, type ClusterContext, type ClusterOptions, nameNodes, slotRanges, type Target } from '../scenarios/cluster-context.js';
import { runClusterIngest } from '../scenarios/cluster-ingest.js';
import { clusterModel } from '../scenarios/cluster-model.js';
import { runClusterNearby } from '../scenarios/cluster-nearby.js';

const SCENARIOS: Record<string, Scenario<ClusterContext> & { help: string }> = {
  ingest: { name: 'ingest', run: runClusterIngest, help: 'DriverStore.applyBatches from writer processes, pings/s and call latency' },
  nearby: { name: 'nearby', run: runClusterNearby, help: 'nearest 10 within 3 km over 100,000 drivers, queries/s and latency' },
};

export const clusterSuite: Suite = {
  name: 'cluster',
  summary:
    'Redis Cluster (3 primaries + 3 replicas) against one redis-server on the same machine: ingest pings/s through the store\'s write path and nearby() queries/s, ' +
    'at area resolution 3 (a city on one shard) and 6 (a city over every shard); CPU per 1,000 operations of every process and the projection to N shards.',
  flags: {
    quick: 'smoke run: 10,000 parked drivers, 1 round, 1 s warm-up, 2 s windows (results go to cluster-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 3, quick: 1, help: 'warm-up before each measured window' },
    duration: { full: 8, quick: 2, help: 'each measured window' },
    waitQuiet: 'before each measured window, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir (the standalone Redis\'s data)',
    own: [
      { name: 'rounds', arg: 'N', help: 'windows per configuration; every other round runs them in reverse order (default 2; 1 with --quick)' },
      { name: 'writers', arg: 'N', help: 'writer processes per configuration in ingest (default 2)' },
      { name: 'readers', arg: 'N', help: 'reader processes per configuration in nearby, 8 queries in flight each (default 2)' },
    ],
  },
  output: 'report',
  prepare(common, own) {
    const options = clusterOptions(common, own);
    return async ({ session, progress }) => {
      const built = gitState();
      progress.log('run', `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}; starting redis-server and a 3-primary cluster`);
      const redis = await session.startRedis();
      const cluster = await RedisCluster.start({ primaries: 3 });
      session.onCleanup(() => cluster.stop());
      const nodes = await nameNodes(redis, cluster);
      const ranges = await slotRanges(cluster);
      const noAck = { redisMinReplicasAck: 0 };
      const onCluster = (res: number, ack: number): Target['engine'] => ({ store: 'cluster', redisCluster: cluster.seeds, redisAreaResolution: res, redisMinReplicasAck: ack });
      const spread = async (res: number, km2: string): Promise<string> => {
        const { areas, shareByShard } = await boxSpread(cluster, CITY_BOX, res);
        return `HEXFLEET_REDIS_AREA_RESOLUTION ${res} (~${km2} km² per area: the 30×30 km Berlin box is ${areas} area${areas === 1 ? '' : 's'}, ` +
          `its cells on shards 1 / 2 / 3: ${shareByShard.map((s) => fmtPct(100 * s)).join(' / ')})`;
      };
      const [res3, res6] = [await spread(3, '12,000'), await spread(6, '36')];
      const clusterText = `Redis Cluster of 3 primaries (slots ${ranges.join(', ')}) with 1 replica each, AOF everysec, cluster-node-timeout 1000 ms`;
      const targets: Target[] = [
        { key: 'one', label: 'one Redis', description: 'one redis-server (AOF everysec), no replica, HEXFLEET_REDIS_MIN_REPLICAS_ACK 0', cluster: false, redisUrl: redis.url, engine: { store: 'redis', ...noAck }, ingestOnly: false },
        {
          key: 'c3', label: 'Cluster, area res 3', cluster: true, redisUrl: '', engine: onCluster(3, 0), ingestOnly: false,
          description: `${clusterText}; ${res3}; MIN_REPLICAS_ACK 0`,
        },
        {
          key: 'c6', label: 'Cluster, area res 6', cluster: true, redisUrl: '', engine: onCluster(6, 0), ingestOnly: false,
          description: `${clusterText}; ${res6}; MIN_REPLICAS_ACK 0`,
        },
        {
          key: 'c3ack1', label: 'Cluster, area res 3, MIN_REPLICAS_ACK 1', cluster: true, redisUrl: '', engine: onCluster(3, 1), ingestOnly: true,
          description: `${clusterText}; area resolution 3; MIN_REPLICAS_ACK 1, the Cluster default (WAIT 1 on the shard's connection after each write, group commit)`,
        },
      ];
      const machine = await machineInfo(redis);
      const ctx: ClusterContext = {
        options, redis, cluster, nodes, targets, progress, tmpDir: session.tmpDir, cpus: machine.cpus, measured: { ingest: new Map(), nearby: new Map() },
      };
      const { rows, crashed } = await runScenarios(ctx, options.scenarios.map((s) => SCENARIOS[s]!));
      const appendix = [clusterModel(ctx)];

      const notes = [
        `Code: ${built} when the run started (\`npm run build\` compiles the working tree).`,
        `Every process shares the machine's ${ctx.cpus} cores: the standalone Redis, the 6 cluster nodes (idle while the other topology is measured), the writer or reader processes and this runner. ` +
          'A cluster cannot scale out here: its 3 primaries, 3 replicas and the clients take turns on the same cores. The model below says what a shard costs, so the scale-out can be projected.',
        'MIN_REPLICAS_ACK is 0 on every configuration but the last (the durability cost is bench:ha\'s figure); the replicas still receive and apply every write, which costs CPU here.',
        'CPU is utime + stime from /proc/<pid>/stat over each window (every thread), in % of one core; "other processes" is what the machine spent outside this benchmark. ' +
          'Script calls and WAITs are INFO commandstats deltas (EVALSHA, EVAL; WAIT) of the serving nodes over the window.',
        'Moves are the Cluster store\'s count of drivers whose ping took them into another area (a record moved between areas, possibly between shards, in 3 steps); at area resolution 3 the box is 2 areas on one shard, so its moves stay on that shard.',
      ];
      const all = options.scenarios.length === Object.keys(SCENARIOS).length;
      const runKind = [
        options.quick ? 'quick smoke run' : 'full run',
        all ? 'all scenarios' : `scenarios ${options.scenarios.join(', ')} only`,
        `${options.rounds} round(s)`,
        ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
      ].join(', ');
      const fileName = `cluster-${options.quick ? 'quick' : 'latest'}${all ? '' : `-${options.scenarios.join('-')}`}.md`;
      return { kind: 'report', title: 'hexfleet Redis Cluster benchmark', machine, runKind, rows, notes, appendix, fileName, crashed };
    };
  },
};

function clusterOptions(common: RunOptions, own: OwnValues): ClusterOptions {
  const quick = common.quick;
  const whole = (flag: string, raw: string | undefined, def: number, max: number): number => {
    const n = positive(flag, raw, def, max);
    if (!Number.isInteger(n)) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${n}`);
    return n;
  };
  const readers = whole('--readers', own.readers, 2, 16);
  return {
    ...common,
    rounds: whole('--rounds', own.rounds, quick ? 1 : 2, 10),
    // bench:ingest's ceiling per writer: 1,000 drivers, batches of 50, 81 batches
    // (4,050 pings) per call as the gateway's 4,096-ping flush, 4 calls in flight.
    ingest: { writers: whole('--writers', own.writers, 2, 16), driversPerWriter: 1000, batchPings: 50, batchesPerCall: 81, inflight: 4 },
    // bench:match's nearby comparison: 16 queries in flight in all.
    nearby: { readers, drivers: quick ? 10_000 : 100_000, concurrencyPerReader: Math.max(1, Math.round(16 / readers)), radiusM: 3000, limit: 10 },
  };
}
