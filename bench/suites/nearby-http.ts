/**
 * `npm run bench:nearby-http`: issue 10's HTTP figure. Nearest 10 within
 * 3 km over 100,000 available drivers (bench:match's fleet: the same seed and
 * box), 16 keep-alive connections with one query in flight each, the load
 * generator on the same machine, sides measured in interleaved rounds with
 * the same query points:
 *
 *   hexfleet-backend  GET /v1/drivers/nearby, HEXFLEET_READ_INDEX=backend (a gateway over Redis)
 *   hexfleet-local    the same with HEXFLEET_READ_INDEX=local ("not available" in a build without it)
 *   hexfleet-local-2  two such gateways on the same Redis, the 16 connections split between them
 *   tile38            Tile38 NEARBY over RESP (TILE38_BIN / --tile38; "not measured" without one)
 *   geosearch         Redis GEOSEARCH over RESP, the baseline of bench:match
 *
 * then the same sampled points through every side, ids compared, and the
 * load generator's own ceiling. A missed target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { cellToLatLng } from 'h3-js';
import { Redis } from 'ioredis';
import { TokenService } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config/load-config.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { boxCells } from '../lib/box-cells.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { describeGatewayEnv, makeGatewayEnv } from '../lib/gateway-env.js';
import { gitState } from '../lib/git-state.js';
import { positive, type OwnValues, type RunOptions, UsageError } from '../lib/options.js';
import { ParkedFleet } from '../lib/parked-fleet.js';
import { fmtInt, fmtMB, machineInfo, type Row } from '../lib/report.js';
import type { Suite } from '../lib/suite.js';
import { type Message, Worker } from '../lib/worker.js';
import { agreement } from '../scenarios/nearby-http-agreement.js';
import { isLive, type LiveSide, type NearbyHttpContext, type NearbyHttpOptions } from '../scenarios/nearby-http-context.js';
import { reportRows, summaryTable } from '../scenarios/nearby-http-report.js';
import { ceilingSide, emptyTally, measureRounds, measureWindow } from '../scenarios/nearby-http-rounds.js';
import { READ_INDEX_ENV, startSides, type Stop } from '../scenarios/nearby-http-sides.js';
import type { LoadConfig, RespClientKind } from '../workers/nearby-http-messages.js';

/** bench:match's prefix, seed and staleness, so both suites park the very same fleet the same way. */
const PREFIX = 'hfbench-nearby-http';
const FLEET_SEED = 0xf1ee7;
/** 30 minutes: the parked fleet (ts = load time) stays fresh for the whole run, as in bench:match. */
const STALE_MS = 30 * 60_000;
const GEOADD_CHUNK = 5000;

export const nearbyHttpSuite: Suite = {
  name: 'nearby-http',
  summary:
    'GET /v1/drivers/nearby over HTTP (read index backend and local) against Tile38 NEARBY and Redis GEOSEARCH: nearest 10 within 3 km ' +
    'over 100,000 drivers, 16 keep-alive connections, interleaved rounds; queries/s, latency, CPU, same ids.',
  flags: {
    quick: 'smoke run: 10,000 drivers, 1 round of 0.5 s warm-up + 2 s per side, 100 sampled points (results go to nearby-http-quick.md)',
    warmup: { full: 2, quick: 0.5, help: 'warm-up window before each measured window' },
    duration: { full: 5, quick: 2, help: 'each measured window' },
    waitQuiet: 'before each window, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir with the gateway and Tile38 logs and the Redis data',
    own: [
      { name: 'tile38', arg: 'PATH', help: 'the tile38-server binary (default: $TILE38_BIN; without one, Tile38 is reported as not measured)' },
      { name: 'rounds', arg: 'N', help: 'interleaved rounds, every side once per round (default 3; 1 with --quick)' },
      {
        name: 'resp-client',
        arg: 'raw|ioredis',
        help: 'how the load generator asks Tile38 and Redis: its own minimal RESP client, as cheap per query as its HTTP client (default raw), or ioredis `call`',
      },
    ],
  },
  environment:
    'TILE38_BIN names the tile38-server binary (--tile38 wins). BENCH_GATEWAY_NODE_ARGS adds node flags to the gateways. ' +
    `HEXFLEET_* variables set in the environment are passed to the gateways on top of the benchmark's own, except ${READ_INDEX_ENV}, which each side sets.`,
  output: 'report',
  prepare(common, own) {
    const options = nearbyHttpOptions(common, own);
    return async ({ session, progress }) => {
      const built = gitState();
      const stops: Stop[] = [];
      session.onCleanup(async () => {
        for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
      });
      const redis = await session.startRedis();
      const jwtSecret = randomBytes(32).toString('hex');
      const { gatewayEnv: envFor, userOverrides } = makeGatewayEnv(redis.url, jwtSecret, process.env);
      const gatewayEnv = envFor(PREFIX, { HEXFLEET_STALE_MS: String(STALE_MS) });
      const config = loadConfig({ ...gatewayEnv, PORT: '0' });
      const fleet = new ParkedFleet(CITY_BOX, options.drivers, FLEET_SEED);
      const backend = await openBenchBackend({
        redisUrl: redis.url, prefix: config.redisPrefix, h3Resolution: config.h3Resolution,
        timing: { staleMs: config.staleMs, offlineMs: config.offlineMs, retentionMs: config.retentionMs },
      });
      stops.push(() => backend.close());
      progress.log('run', `parking ${fmtInt(fleet.size)} available drivers over ${CITY_BOX.name} through the Redis backend's DriverStore.applyBatches`);
      const applied = await fleet.load(backend.drivers, Date.now());
      const ctx: NearbyHttpContext = {
        options, redis, tmpDir: session.tmpDir, progress, jwtSecret, gatewayEnv, config, fleet,
        token: await new TokenService(jwtSecret).sign({ role: 'service', sub: 'bench-nearby-http', ttlS: 24 * 3600 }),
        geoKey: `${config.redisPrefix}:bench:geo`, tile38Key: 'fleet',
      };
      const geoBytes = await loadGeoKey(ctx);

      const sides = await startSides(ctx, stops);
      const live = sides.filter(isLive);
      for (const s of live.filter((x) => x.family === 'hexfleet')) await warmRingCache(ctx, s);
      const lg = new Worker('loadgen', 'nearby-http-loadgen.js');
      stops.push(() => lg.stop());
      const lgConfig: LoadConfig = { type: 'config', area: fleet.area, radiusM: options.radiusM, limit: options.limit };
      lg.send(lgConfig);
      await lg.next('ready', 30_000);

      progress.log('run', `${options.rounds} interleaved round(s) of ${live.map((s) => s.key).join(', ')}: ${options.warmupS} s warm-up + ${options.durationS} s measured each`);
      const tallies = await measureRounds(ctx, lg, live);
      const ceiling = await measureCeiling(ctx, lg, live);
      progress.log('run', `agreement over ${options.agreementSample} sampled points`);
      const pairs = await agreement(ctx, live);
      const extras: string[] = [];
      for (const s of live) {
        const extra = await s.extra?.();
        if (extra) extras.push(`${s.key}: ${extra}`);
      }

      const fleetRow: Row = {
        scenario: 'fleet',
        figure: 'parameters',
        value:
          `${fmtInt(applied)} available drivers, one ping each, uniform over ${(2 * CITY_BOX.halfSideM) / 1000}×${(2 * CITY_BOX.halfSideM) / 1000} km around ${CITY_BOX.name} ` +
          `(bench:match's seed); in Redis through DriverStore.applyBatches (prefix ${config.redisPrefix}:v1:), in the GEO key (${fmtMB(geoBytes)})` +
          `${live.some((s) => s.family === 'tile38') ? ' and in Tile38' : ''}; ` +
          `queries: nearest ${options.limit} within ${options.radiusM} m at uniform random points of the box, the same seeded sequence for every side in a round; ` +
          `${options.connections} keep-alive connections from one load generator process, one query in flight on each; ` +
          `${options.rounds} round(s), sides in turn, ${options.warmupS} s warm-up + ${options.durationS} s measured per side per round`,
      };
      const notes = [
        'CPU is utime + stime from /proc/<pid>/stat over each measured window (every thread), in % of one core; the load generator reports its own (process.cpuUsage). ' +
          '"Other processes" is what the machine spent outside this benchmark: well above 0, the 2 cores were shared and every figure is low.',
        'The load generator is one process with minimal clients on raw sockets, one request in flight per connection: HTTP/1.1 keep-alive for the hexfleet sides (bench/workers/nearby-http-client.ts), ' +
          (options.respClient === 'raw'
            ? 'RESP for Tile38 and GEOSEARCH (nearby-http-resp-client.ts: it frames each reply and counts its items without building JS values, so every side costs the generator about the same; `--resp-client=ioredis` asks through ioredis `call` instead). '
            : 'and ioredis `call` (no auto-pipelining) for Tile38 and GEOSEARCH (--resp-client=ioredis). ') +
          'Its ceiling row shows what it sustains when the server costs next to nothing. Latency is send → whole answer received, answers only.',
        `Before the first window each hexfleet gateway answered one query at the centre of every H3 cell of the box (its ring cache warm, the steady state of a gateway that has served the city); Tile38 and Redis have no such cache.`,
        `The gateways run \`node dist/src/cli.js serve\` with ${describeGatewayEnv(gatewayEnv)}; HEXFLEET_STALE_MS is 30 min as in bench:match (the fleet is never re-pinged; staleness is still checked).`,
        `Built from ${built} (as found when the run started).`,
        ...extras.map((e) => `Read-index metrics at the end (totals since the gateway started, warm-up included), ${e}.`),
      ];
      if (Object.keys(userOverrides).length > 0) notes.push(`HEXFLEET_* overrides taken from the environment: ${Object.keys(userOverrides).join(', ')}.`);
      const runKind = [
        options.quick ? 'quick smoke run' : 'full run',
        ...(options.waitQuietS > 0 ? [`each window waited up to ${options.waitQuietS} s for other processes to go quiet`] : []),
      ].join(', ');
      return {
        kind: 'report', title: 'hexfleet nearby over HTTP vs Tile38', machine: await machineInfo(redis), runKind,
        rows: [fleetRow, ...reportRows(ctx, sides, tallies, pairs, ceiling)], notes,
        appendix: ['## Summary\n\n' + summaryTable(sides, tallies, pairs)],
        fileName: `nearby-http-${options.quick ? 'quick' : 'latest'}.md`, crashed: false,
      };
    };
  },
};

function nearbyHttpOptions(common: RunOptions, own: OwnValues): NearbyHttpOptions {
  const quick = common.quick;
  return {
    ...common,
    drivers: quick ? 10_000 : 100_000,
    rounds: Math.round(positive('--rounds', own.rounds, quick ? 1 : 3, 20)),
    connections: 16,
    radiusM: 3000,
    limit: 10,
    agreementSample: quick ? 100 : 1000,
    tile38: own.tile38,
    respClient: respClientOf(own['resp-client']),
  };
}

function respClientOf(raw: string | undefined): RespClientKind {
  if (raw === undefined || raw === 'raw' || raw === 'ioredis') return raw ?? 'raw';
  throw new UsageError(`--resp-client must be raw or ioredis, got "${raw}"`);
}

/** The fleet in one Redis GEO key, for the GEOSEARCH side; returns its bytes in Redis. */
async function loadGeoKey(ctx: NearbyHttpContext): Promise<number> {
  const { fleet } = ctx;
  const geo = new Redis(ctx.redis.url, { maxRetriesPerRequest: 0 });
  try {
    const before = Number((await ctx.redis.info('memory')).used_memory);
    for (let first = 0; first < fleet.size; first += GEOADD_CHUNK) {
      const args: (string | number)[] = [];
      for (let i = first; i < Math.min(fleet.size, first + GEOADD_CHUNK); i++) args.push(fleet.lng[i]!, fleet.lat[i]!, fleet.ids[i]!);
      await geo.geoadd(ctx.geoKey, ...args);
    }
    return Number((await ctx.redis.info('memory')).used_memory) - before;
  } finally {
    geo.disconnect();
  }
}

/**
 * One query at the centre of every H3 cell of the box, 16 in flight, to every
 * gateway of the side: its ring cache as after a while in service.
 */
async function warmRingCache(ctx: NearbyHttpContext, side: LiveSide): Promise<void> {
  if (side.target.kind !== 'http') return;
  const centres = boxCells(ctx.fleet.area, ctx.config.h3Resolution).map((c) => cellToLatLng(c));
  const { ports } = side.target;
  ctx.progress.log(side.key, `warming the ring cache of ${ports.length} gateway(s): one query per H3 cell of the box (${fmtInt(centres.length)} cells)`);
  const headers = { authorization: `Bearer ${ctx.token}` };
  for (const port of ports) {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < centres.length) {
        const [lat, lng] = centres[next++]!;
        const res = await fetch(`http://127.0.0.1:${port}/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=${ctx.options.radiusM}&limit=${ctx.options.limit}`, { headers });
        if (res.status !== 200) throw new Error(`${side.key} (port ${port}): HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: ctx.options.connections }, lane));
  }
}

/** The load generator against a server that answers at once with a real hexfleet answer: what the generator itself sustains. */
async function measureCeiling(ctx: NearbyHttpContext, lg: Worker, live: LiveSide[]): Promise<{ tally: ReturnType<typeof emptyTally>; bodyBytes: number } | undefined> {
  const hex = live.find((s) => s.family === 'hexfleet');
  if (!hex || hex.target.kind !== 'http') return undefined;
  const res = await fetch(`http://127.0.0.1:${hex.target.ports[0]}/v1/drivers/nearby?lat=${ctx.fleet.area.lat}&lng=${ctx.fleet.area.lng}&radius=${ctx.options.radiusM}&limit=${ctx.options.limit}`, {
    headers: { authorization: `Bearer ${ctx.token}` },
  });
  const body = await res.text();
  const echo = new Worker('echo-server', 'nearby-http-echo.js');
  try {
    echo.send({ type: 'config', body } as Message);
    const { port } = await echo.next<Message & { port: number }>('listening', 30_000);
    const tally = emptyTally();
    await measureWindow(ctx, lg, ceilingSide(port, echo.pid, ctx.token), 1, tally, 'load generator ceiling');
    return { tally, bodyBytes: Buffer.byteLength(body) };
  } finally {
    await echo.stop();
  }
}
