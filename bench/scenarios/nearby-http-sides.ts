/**
 * The sides of bench:nearby-http, as data: two hexfleet gateways that differ
 * only in where GET /v1/drivers/nearby reads (HEXFLEET_READ_INDEX), Tile38,
 * and Redis GEOSEARCH, and two local gateways sharing the load (issue 10:
 * reads no longer touch Redis, so a second gateway should double them). A side the build or the machine cannot run is a
 * result ("not available in this build", "Tile38 not measured: …"), never a
 * reason to stop the others.
 *
 *   hexfleet-backend  gateway ──Lua──▶ Redis            (the path of today)
 *   hexfleet-local    gateway (its follower index) ─ Redis feeds it
 *   hexfleet-local-2  two such gateways, the connections split between them
 *   tile38            tile38-server, NEARBY over RESP
 *   geosearch         redis-server, GEOSEARCH over RESP
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { type Scrape } from '../../kit/metrics-scrape.js';
import { configSchema, type ConfigKey, envName } from '../../src/config/config-schema.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { fmtMB } from '../lib/report.js';
import type { Hit, LiveSide, NearbyHttpContext, Side } from './nearby-http-context.js';
import { tile38Binary, Tile38Server } from './nearby-http-tile38.js';

/** The gateway setting the two hexfleet sides differ in (issue 10's gateway-local read index). */
export const READ_INDEX_ENV = 'HEXFLEET_READ_INDEX';

interface HexfleetSideSpec {
  key: string;
  readIndex: string;
  /** A build without the setting reads the backend, so this side runs there without it. */
  isTodaysPath: boolean;
  /** Gateway processes behind the side (the load generator spreads its connections over them). */
  gateways: number;
}

const HEXFLEET_SIDES: readonly HexfleetSideSpec[] = [
  { key: 'hexfleet-backend', readIndex: 'backend', isTodaysPath: true, gateways: 1 },
  { key: 'hexfleet-local', readIndex: 'local', isTodaysPath: false, gateways: 1 },
  { key: 'hexfleet-local-2', readIndex: 'local', isTodaysPath: false, gateways: 2 },
];

/** The side with one local gateway: what the two-gateway side is compared with. */
export const ONE_LOCAL_GATEWAY = 'hexfleet-local';

/** Something a started side needs stopped at the end. */
export type Stop = () => Promise<void>;

/** Starts every side it can, in the order they are measured; `stops` receives what to stop afterwards. */
export async function startSides(ctx: NearbyHttpContext, stops: Stop[]): Promise<Side[]> {
  const sides: Side[] = [];
  for (const spec of HEXFLEET_SIDES) sides.push(await startHexfleet(ctx, spec, stops));
  sides.push(await startTile38(ctx, stops));
  sides.push(await startGeosearch(ctx, stops));
  return sides;
}

/** The environment of a hexfleet side, or why this build cannot run it. */
function readIndexSettings(ctx: NearbyHttpContext, spec: HexfleetSideSpec): { env: Record<string, string>; note: string } | { unavailable: string } {
  const known = (Object.keys(configSchema) as ConfigKey[]).some((k) => envName(k) === READ_INDEX_ENV);
  // The side's own value wins over one the caller exported: the sides are defined by it.
  const base = { ...ctx.gatewayEnv };
  delete base[READ_INDEX_ENV];
  if (!known) {
    return spec.isTodaysPath
      ? { env: base, note: `${READ_INDEX_ENV} is not in this build: the gateway reads the backend (its only path)` }
      : { unavailable: `not available in this build: ${READ_INDEX_ENV} is not among the gateway's settings (src/config/config-schema.ts)` };
  }
  const env = { ...base, [READ_INDEX_ENV]: spec.readIndex };
  try {
    loadConfig({ ...env, PORT: '0' });
  } catch (err) {
    if (err instanceof ConfigError) return { unavailable: `not available in this build: ${err.message}` };
    throw err;
  }
  return { env, note: `${READ_INDEX_ENV}=${spec.readIndex}` };
}

async function startHexfleet(ctx: NearbyHttpContext, spec: HexfleetSideSpec, stops: Stop[]): Promise<Side> {
  const label = `hexfleet GET /v1/drivers/nearby, read index ${spec.readIndex}` + (spec.gateways > 1 ? `, ${spec.gateways} gateways` : '');
  const settings = readIndexSettings(ctx, spec);
  if ('unavailable' in settings) {
    ctx.progress.log(spec.key, settings.unavailable);
    return { key: spec.key, label, family: 'hexfleet', unavailable: settings.unavailable };
  }
  ctx.progress.log(spec.key, `starting ${spec.gateways} gateway(s) (${settings.note})`);
  const gws: GatewayProcess[] = [];
  try {
    for (let i = 0; i < spec.gateways; i++) {
      const gw = await startBenchGateway(spec.gateways > 1 ? `${spec.key}-${i + 1}` : spec.key, settings.env, ctx.tmpDir);
      gws.push(gw);
      stops.push(() => gw.stop());
    }
  } catch (err) {
    const why = `the gateway did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
    ctx.progress.log(spec.key, why);
    return { key: spec.key, label, family: 'hexfleet', unavailable: why };
  }
  const { radiusM, limit } = ctx.options;
  const headers = { authorization: `Bearer ${ctx.token}` };
  const names = gws.map((_, i) => (gws.length > 1 ? `${spec.key}-${i + 1}` : spec.key));
  let turn = 0;
  const side: LiveSide = {
    key: spec.key,
    label,
    family: 'hexfleet',
    target: { kind: 'http', ports: gws.map((g) => g.port), token: ctx.token },
    servers: new Map([...gws.map((g, i): [string, number] => [names[i]!, g.pid]), ['redis-server', ctx.redis.pid]]),
    setup: `\`node dist/src/cli.js serve\` (${settings.note}), ` + (gws.length > 1 ? `${gws.length} processes on one Redis, the connections split evenly` : 'one process'),
    async ask(lat, lng) {
      const gw = gws[turn++ % gws.length]!;
      const res = await fetch(`${gw.httpUrl}/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=${radiusM}&limit=${limit}`, { headers });
      if (res.status !== 200) throw new Error(`${spec.key}: HTTP ${res.status} ${await res.text()}`);
      const { drivers } = (await res.json()) as { drivers: { driverId: string; distanceM: number }[] };
      return drivers.map((d) => ({ id: d.driverId, distanceM: d.distanceM }));
    },
    extra: async () => readIndexMetrics(await gws[0]!.scrape()),
  };
  return side;
}

/**
 * The gateway's read-index series (any metric named *read_index*, totals
 * since it started): whether the local side really served from its
 * follower, and how far behind it was. Undefined when the build has none.
 */
function readIndexMetrics(scrape: Scrape): string | undefined {
  const out: string[] = [];
  for (const [series, v] of scrape.series) {
    if (/read_index/.test(series) && !/_bucket\{/.test(series)) out.push(`${series} ${v}`);
  }
  return out.length > 0 ? out.slice(0, 12).join('; ') : undefined;
}

async function startTile38(ctx: NearbyHttpContext, stops: Stop[]): Promise<Side> {
  const label = 'Tile38 NEARBY over RESP';
  const bin = tile38Binary(ctx.options.tile38, process.env);
  if ('missing' in bin) {
    const why = `Tile38 not measured: ${bin.missing}`;
    ctx.progress.log('tile38', why);
    return { key: 'tile38', label, family: 'tile38', unavailable: why };
  }
  let server: Tile38Server;
  let objects: number;
  let loadS: number;
  try {
    server = await Tile38Server.start(bin.path, join(ctx.tmpDir, 'tile38'));
    stops.push(() => server.stop());
    const t0 = performance.now();
    objects = await server.load(ctx.tile38Key, ctx.fleet);
    loadS = (performance.now() - t0) / 1000;
  } catch (err) {
    const why = `Tile38 not measured: ${bin.path} failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
    ctx.progress.log('tile38', why);
    return { key: 'tile38', label, family: 'tile38', unavailable: why };
  }
  const heap = await server.heapBytes();
  const version = server.version();
  ctx.progress.log('tile38', `${bin.path} (${version}): ${objects} points in "${ctx.tile38Key}" in ${loadS.toFixed(1)} s, heap ${fmtMB(heap)}`);
  const { radiusM, limit } = ctx.options;
  return {
    key: 'tile38',
    label,
    family: 'tile38',
    target: { kind: 'tile38', port: server.port, key: ctx.tile38Key },
    servers: new Map([['tile38-server', server.pid]]),
    setup:
      `${bin.path} (${version}), \`-h 127.0.0.1 -p PORT -d <run dir> --appendonly no\`, GOMAXPROCS default (every core); ` +
      `${objects.toLocaleString('en-US')} points loaded with pipelined SET ${ctx.tile38Key} <id> POINT <lat> <lng> in ${loadS.toFixed(1)} s, heap ${fmtMB(heap)}; ` +
      `queried with NEARBY ${ctx.tile38Key} LIMIT ${limit} POINT <lat> <lng> ${radiusM}`,
    async ask(lat, lng) {
      // DISTANCE adds each point's distance to the answer; the measured query goes without it.
      const reply = (await server.client.call('NEARBY', ctx.tile38Key, 'LIMIT', limit, 'DISTANCE', 'POINT', lat, lng, radiusM)) as [string, [string, string, string][]];
      return reply[1].map(([id, , d]) => ({ id, distanceM: Number(d) }));
    },
  };
}

async function startGeosearch(ctx: NearbyHttpContext, stops: Stop[]): Promise<Side> {
  const client = new Redis(ctx.redis.url, { maxRetriesPerRequest: 0 });
  client.on('error', () => undefined); // failures reach the caller through each command's promise
  stops.push(async () => {
    client.disconnect();
  });
  const { radiusM, limit } = ctx.options;
  const ask = async (lat: number, lng: number): Promise<Hit[]> => {
    const reply = (await client.call('GEOSEARCH', ctx.geoKey, 'FROMLONLAT', lng, lat, 'BYRADIUS', radiusM, 'm', 'ASC', 'COUNT', limit, 'WITHDIST')) as [string, string][];
    return reply.map(([id, d]) => ({ id, distanceM: Number(d) }));
  };
  return {
    key: 'geosearch',
    label: 'Redis GEOSEARCH over RESP',
    family: 'geosearch',
    target: { kind: 'geosearch', port: ctx.redis.port, key: ctx.geoKey },
    servers: new Map([['redis-server', ctx.redis.pid]]),
    setup: `the run's redis-server, one GEO key ${ctx.geoKey} (GEOADD); GEOSEARCH ${ctx.geoKey} FROMLONLAT <lng> <lat> BYRADIUS ${radiusM} m ASC COUNT ${limit} WITHCOORD WITHDIST`,
    ask,
  };
}
