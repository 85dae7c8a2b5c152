/**
 * `npm run bench:match`: the dispatch benchmark of issue 3.
 *
 *   api      POST /v1/match + cancel through a real gateway with autocannon:
 *            fixed rate (overallRate, and paced with coordinated omission
 *            corrected) and max throughput (scenarios/match-api.ts)
 *   nearby   RedisDriverStore.nearby() vs Redis GEOSEARCH, same drivers,
 *            same queries, same concurrency (scenarios/nearby-vs-geosearch.ts)
 *   solver   the assignment solver micro-benchmark (scenarios/solver.ts), run
 *            as a child process, its table included (scenarios/solver-child.ts)
 *
 * Parks the fleet first (100,000 available drivers over 30 × 30 km of Berlin)
 * through the Redis backend's DriverStore.applyBatches under the gateway's
 * prefix. A missed target is a result, not a failure.
 */
import { gitState } from '../lib/git-state.js';
import { randomBytes } from 'node:crypto';
import type { Backend } from '../../src/backend/backend.js';
import { loadConfig } from '../../src/config/load-config.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { describeGatewayEnv, makeGatewayEnv } from '../lib/gateway-env.js';
import { type MatchContext, type MatchOptions, NOISY_OTHERS_PCT } from '../lib/match-context.js';
import { nonNegative, type OwnValues, positive, type RunOptions } from '../lib/options.js';
import { ParkedFleet } from '../lib/parked-fleet.js';
import { fmtInt, fmtMB, machineInfo, type Row } from '../lib/report.js';
import { runScenarios, type Scenario, type Suite } from '../lib/suite.js';
import { runMatchApi } from '../scenarios/match-api.js';
import { runNearbyVsGeosearch } from '../scenarios/nearby-vs-geosearch.js';
import { runSolverChild } from '../scenarios/solver-child.js';
import { runRankCutoff } from '../scenarios/rank-cutoff.js';

/** The gateway's key prefix; the fleet is written under it so the gateway matches it. */
const PREFIX = 'hfbench-match';
const FLEET_SEED = 0xf1ee7;
/**
 * 30 minutes: the parked fleet's positions (ts = load time) stay fresh for
 * the whole run, so nothing has to re-ping 100,000 drivers in the middle of
 * a measured window. Staleness is still checked on every candidate (nearby
 * filter, reservation script); only the threshold is longer.
 */
const STALE_MS = 30 * 60_000;

/** The scenarios by their --scenario name, in the order a run measures them. */
const SCENARIOS: Record<string, Scenario<MatchContext> & { help: string }> = {
  api: { name: 'match API', run: runMatchApi, help: 'POST /v1/match + cancel through a real gateway (autocannon)' },
  nearby: { name: 'nearby vs GEOSEARCH', run: runNearbyVsGeosearch, help: 'RedisDriverStore.nearby() vs Redis GEOSEARCH' },
  solver: { name: 'solver', run: runSolverChild, help: 'npm run bench:solver, its table included' },
  rank: { name: 'rank: in-thread vs pool', run: runRankCutoff, help: 'ranking a candidate list on the event loop vs in the dispatch pool, by size (HEXFLEET_DISPATCH_RANK_IN_THREAD_MAX)' },
};

export const matchSuite: Suite = {
  name: 'match',
  summary:
    'Dispatch: POST /v1/match under autocannon at 2,000 matches/s and closed loop over 100,000 drivers in Redis; ' +
    'nearby() against Redis GEOSEARCH on the same data; the solver table.',
  flags: {
    quick: 'smoke run: 10,000 drivers, 1 s warm-up, 3 s windows, solver --quick (results go to match-quick.md)',
    scenarios: Object.entries(SCENARIOS).map(([key, s]) => [key, s.help] as const),
    warmup: { full: 5, quick: 1, help: 'warm-up before each match window' },
    duration: { full: 15, quick: 3, help: 'each match window' },
    waitQuiet: 'before each measured window, wait up to this long for processes outside the benchmark to go quiet (shared machines; default 0 = start at once)',
    keepLogs: 'keep the temp dir with the gateway log and Redis data',
    own: [
      { name: 'rate', arg: 'N', help: 'matches/s of the fixed-rate runs (default 2000)' },
      { name: 'before', arg: 'DIR', help: 'another checkout, built (e.g. `git worktree add /tmp/before <commit>`, node_modules linked, npm run build): the match API runs measure its gateway first, then this build\'s, in the same run' },
      {
        name: 'noisy-retries',
        arg: 'N',
        help: `measure a window again (up to N times, default 2; 0 in --quick) when other processes used more than ${NOISY_OTHERS_PCT} % of one core during it; the quietest attempt is reported`,
      },
    ],
  },
  environment:
    'BENCH_GATEWAY_NODE_ARGS adds node flags to the gateway (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it); ' +
    'HEXFLEET_* variables set in the environment are passed to the gateway on top of the benchmark\'s own and listed in the report.',
  output: 'report',
  prepare(common, own) {
    const options = matchOptions(common, own);
    return async ({ session, progress }) => {
      // Taken now, not at the end: others may commit to this tree while the run goes on.
      const built = gitState();
      let backend: Backend | undefined;
      session.onCleanup(async () => {
        await backend?.close();
      });
      progress.log('run', `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}; starting redis-server`);
      const redis = await session.startRedis();
      const jwtSecret = randomBytes(32).toString('hex');
      const { gatewayEnv: envFor, userOverrides } = makeGatewayEnv(redis.url, jwtSecret, process.env);
      const gatewayEnv = envFor(PREFIX, { HEXFLEET_STALE_MS: String(STALE_MS), HEXFLEET_DISPATCH_THREADS: '1' });
      const config = loadConfig({ ...gatewayEnv, PORT: '0' });
      // The gateways' timing: parked drivers must stay fresh for the bench's own nearby() as for theirs.
      backend = await openBenchBackend({
        redisUrl: redis.url, prefix: config.redisPrefix, h3Resolution: config.h3Resolution,
        timing: { staleMs: config.staleMs, offlineMs: config.offlineMs, retentionMs: config.retentionMs },
      });
      const store = backend.drivers;
      const keyPrefix = `${config.redisPrefix}:v1:`;
      const fleet = new ParkedFleet(CITY_BOX, options.drivers, FLEET_SEED);
      progress.log('run', `parking ${fmtInt(fleet.size)} available drivers over ${CITY_BOX.name} through the Redis backend's DriverStore.applyBatches (prefix ${keyPrefix})`);
      const t0 = performance.now();
      const before = Number((await redis.info('memory')).used_memory);
      const applied = await fleet.load(store, Date.now());
      const storeBytes = Number((await redis.info('memory')).used_memory) - before;
      const loadS = (performance.now() - t0) / 1000;
      progress.log('run', `${fmtInt(applied)} drivers stored in ${loadS.toFixed(1)} s (${fmtMB(storeBytes)} in Redis)`);

      const appendix: string[] = [];
      const ctx: MatchContext = { options, redis, tmpDir: session.tmpDir, progress, jwtSecret, gatewayEnv, config, fleet, store, keyPrefix, appendix };
      const machine = await machineInfo(redis);
      const fleetRow: Row = {
        scenario: 'fleet',
        figure: 'parameters',
        value:
          `${fmtInt(applied)} drivers, status available, one ping each (ts = load time), uniform over ${(2 * CITY_BOX.halfSideM) / 1000}×${(2 * CITY_BOX.halfSideM) / 1000} km around ` +
          `${CITY_BOX.name} (${CITY_BOX.lat}, ${CITY_BOX.lng}), written with DriverStore.applyBatches in calls of 2,000 under prefix ${keyPrefix} ` +
          `in ${loadS.toFixed(1)} s; ${fmtMB(storeBytes)} in Redis (${fmtInt(storeBytes / applied)} bytes per driver)`,
      };
      const { rows, crashed } = await runScenarios(ctx, options.scenarios.map((s) => SCENARIOS[s]!));

      const overrides = Object.keys(userOverrides);
      const notes = [
        'CPU is utime + stime from /proc/<pid>/stat over the window (every thread of the process), in % of one core; "machine busy" is /proc/stat over all cores; ' +
          '"other processes" is what the machine spent outside this benchmark: well above 0, the 2 cores were shared and every figure is low.',
        `The gateway runs \`node dist/src/cli.js serve\` with ${describeGatewayEnv(gatewayEnv)}. HEXFLEET_STALE_MS is raised from 30 s to 30 min for the benchmark ` +
          '(see bench/suites/match.ts): the parked fleet is loaded once and is never re-pinged, and every staleness check still runs.',
        'Latency percentiles come from this benchmark\'s own µs histograms in the load generator (per request kind); autocannon\'s own histogram (whole ms, match and cancel mixed) is shown beside them. ' +
          'autocannon\'s overallRate releases each connection\'s share of the rate at the start of every second, back to back, so that run is bursty; the paced run spreads the same rate evenly and counts each match from its scheduled time.',
        'The load generator cleans up after each run: orders whose cancel the stop cut off are cancelled again, and a cancel answered 404 or 409 is retried 200 ms later (up to 5 passes). ' +
          'The 409 retry works around a race found while building this benchmark: a cancel that reaches the gateway while the same order is still being created answers ' +
          '409 "the order is searching; only open orders can be cancelled" and the order is then offered anyway (OrderSaga.cancel: its transition finds no document, ' +
          'the re-read finds it searching). Measured cycles never hit it: each cancel follows its match\'s 200.',
        `Built from ${built} (as found when the run started).`,
      ];
      if (overrides.length > 0) notes.push(`HEXFLEET_* overrides taken from the environment: ${overrides.join(', ')}.`);
      const all = options.scenarios.length === Object.keys(SCENARIOS).length;
      const runKind = [
        options.quick ? 'quick smoke run' : 'full run',
        all ? 'all scenarios' : `scenarios ${options.scenarios.join(', ')} only`,
        ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
        ...(options.noisyRetries > 0
          ? [`a window where other processes used over ${NOISY_OTHERS_PCT} % of one core was measured again, up to ${options.noisyRetries} more time${options.noisyRetries === 1 ? '' : 's'}, and the quietest attempt kept`]
          : []),
      ].join(', ');
      // A full run of every scenario is the reference (match-latest.md); a smoke or partial run never overwrites it.
      const fileName = `match-${options.quick ? 'quick' : 'latest'}${all ? '' : `-${options.scenarios.join('-')}`}.md`;
      return { kind: 'report', title: 'hexfleet dispatch benchmark', machine, runKind, rows: [fleetRow, ...rows], notes, appendix, fileName, crashed };
    };
  },
};

function matchOptions(common: RunOptions, own: OwnValues): MatchOptions {
  const quick = common.quick;
  const rate = Math.round(positive('--rate', own.rate, 2000, 100_000));
  return {
    ...common,
    drivers: quick ? 10_000 : 100_000,
    // 20 s at 2,000 matches/s: 40,000 random pickups, so all but ~1 % of the
    // box's cells have been an origin before the first window.
    prewarmS: quick ? 2 : 20,
    rate,
    noisyRetries: Math.round(nonNegative('--noisy-retries', own['noisy-retries'], quick ? 0 : 2, 10)),
    // 32 connections at 2,000 matches/s: one match every 16 ms per connection,
    // several times a match + cancel round trip even at p99.9, so a connection
    // is almost never still busy when its next match is due.
    rateConnections: Math.min(32, rate),
    // Closed loop: 16 in flight, the concurrency of the nearby comparison.
    maxConnections: 16,
    nearbyConcurrency: 16,
    nearbyS: quick ? 1 : 6,
    agreementSample: quick ? 200 : 1000,
    ...(own.before ? { beforeDir: own.before } : {}),
  };
}
