/**
 * RedisDriverStore.nearby() against Redis's own GEOSEARCH over the same
 * drivers, from one process with the same number of queries in flight, the
 * same random query points, the same radius and the same result shape:
 *
 *   nearby(lat, lng, 3000, { limit: 10 })
 *     vs GEOSEARCH key FROMLONLAT lng lat BYRADIUS 3000 m ASC COUNT 10 WITHDIST
 *   nearby(lat, lng, 1000, { limit: 500 })
 *     vs GEOSEARCH key FROMLONLAT lng lat BYRADIUS 1000 m ASC COUNT 500 WITHDIST
 *
 * The GEO key (one sorted set of geohashes) is the baseline a Redis user would
 * reach for first; nearby() reads H3 cell hashes through a Lua script and
 * filters status and staleness on the way, which GEOSEARCH cannot. Both sides
 * return arrays of (driver id, distance) nearest first, decoded in this
 * process. The two alternate in rounds so that a burst of other work on the
 * machine lands on both.
 */
import { cellToLatLng, polygonToCells } from 'h3-js';
import { Redis } from 'ioredis';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import { Histogram } from '../lib/histogram.js';
import { type MatchContext, NOISY_OTHERS_PCT } from '../lib/match-context.js';
import { type Area, pointIn } from '../lib/driver-sim.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { fmtInt, fmtMB, fmtMs, fmtPct, type Row } from '../lib/report.js';

const PHASE = 'nearby vs GEOSEARCH';
/** Issue 3: nearby() ≥ 2× the throughput of GEOSEARCH on the same data. */
const TARGET_RATIO = 2;
const ROUNDS = 2;
const WARMUP_S = 1;
const GEOADD_CHUNK = 5000;
const QUERY_SEED = 0x9e0;

interface Shape {
  name: string;
  radiusM: number;
  limit: number;
  /** The one the target is judged on. */
  target: boolean;
}

const SHAPES: Shape[] = [
  { name: 'nearest 10 within 3000 m', radiusM: 3000, limit: 10, target: true },
  { name: 'everyone within 1000 m (limit / COUNT 500)', radiusM: 1000, limit: 500, target: false },
];

interface Hit {
  id: string;
  distanceM: number;
}

type Query = (lat: number, lng: number, shape: Shape) => Promise<Hit[]>;

interface Tally {
  queries: number;
  seconds: number;
  returned: number;
  latency: Histogram;
  redisCpuS: number;
  clientCpuS: number;
  /** CPU-seconds the rest of the machine used meanwhile (other engineers' work on a shared machine). */
  othersCpuS: number;
}

/** Loads the GEO key, warms both sides, measures both shapes and the agreement; the GEO key is deleted afterwards. */
export async function runNearbyVsGeosearch(ctx: MatchContext): Promise<Row[]> {
  const { fleet, store } = ctx;
  const o = ctx.options;
  const geoKey = `${ctx.keyPrefix}bench:geo`;
  const geo = new Redis(ctx.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const rows: Row[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      geo.once('ready', resolve);
      geo.once('error', reject);
    });
    const before = Number((await ctx.redis.info('memory')).used_memory);
    for (let first = 0; first < fleet.size; first += GEOADD_CHUNK) {
      const args: (string | number)[] = [];
      for (let i = first; i < Math.min(fleet.size, first + GEOADD_CHUNK); i++) args.push(fleet.lng[i]!, fleet.lat[i]!, fleet.ids[i]!);
      await geo.geoadd(geoKey, ...args);
    }
    const geoBytes = Number((await ctx.redis.info('memory')).used_memory) - before;
    ctx.progress.log(PHASE, `GEOADD ${fmtInt(await geo.zcard(geoKey))} drivers into ${geoKey} (${fmtMB(geoBytes)})`);

    const viaNearby: Query = async (lat, lng, shape) =>
      (await store.nearby(lat, lng, shape.radiusM, { limit: shape.limit }, Date.now())).map((d) => ({ id: d.driverId, distanceM: d.distanceM }));
    const viaGeosearch: Query = async (lat, lng, shape) => {
      const reply = (await geo.call('GEOSEARCH', geoKey, 'FROMLONLAT', lng, lat, 'BYRADIUS', shape.radiusM, 'm', 'ASC', 'COUNT', shape.limit, 'WITHDIST')) as [string, string][];
      return reply.map(([id, d]) => ({ id, distanceM: Number(d) }));
    };

    rows.push({
      scenario: PHASE,
      figure: 'parameters',
      value:
        `${fmtInt(fleet.size)} drivers, the same positions in the geo store (prefix ${ctx.keyPrefix}, H3 resolution ${ctx.config.h3Resolution}) and in one GEO key (GEOADD); ` +
        `closed loop, ${o.nearbyConcurrency} queries in flight from this one process, one ioredis connection each side; uniform random query points in the box, the same sequence for both; ` +
        `${ROUNDS} alternating rounds of ${o.nearbyS / ROUNDS} s per side and shape; GEO key ${fmtMB(geoBytes)} in Redis`,
    });
    const cells = boxCells(fleet.area, ctx.config.h3Resolution);
    ctx.progress.log(PHASE, `warming nearby()'s ring cache: one query per H3 cell of the box (${fmtInt(cells.length)} cells) per shape`);
    for (const shape of SHAPES) await warmRingCache(ctx, cells, shape);
    for (const shape of SHAPES) {
      await awaitQuietMachine(ctx, PHASE, new Map());
      // JIT and connection warm-up for both sides, not counted.
      await measure(ctx, viaNearby, shape, emptyTally(), WARMUP_S, QUERY_SEED - 1);
      await measure(ctx, viaGeosearch, shape, emptyTally(), WARMUP_S, QUERY_SEED - 1);
      const attempts: [Tally, Tally][] = [];
      for (let attempt = 0; attempt <= o.noisyRetries; attempt++) {
        const a = emptyTally();
        const b = emptyTally();
        for (let round = 0; round < ROUNDS; round++) {
          await measure(ctx, viaNearby, shape, a, o.nearbyS / ROUNDS, QUERY_SEED + round);
          await measure(ctx, viaGeosearch, shape, b, o.nearbyS / ROUNDS, QUERY_SEED + round);
        }
        attempts.push([a, b]);
        if (noise(a, b) <= NOISY_OTHERS_PCT) break;
        if (attempt < o.noisyRetries) ctx.progress.log(PHASE, `${shape.name}: other processes used ${fmtPct(noise(a, b))} of one core: measuring again`);
      }
      const [a, b] = attempts.reduce((q, x) => (noise(...x) < noise(...q) ? x : q));
      const dropped = attempts.filter(([x]) => x !== a).map((x) => fmtPct(noise(...x)));
      const qa = a.queries / a.seconds;
      const qb = b.queries / b.seconds;
      const ratio = qa / qb;
      ctx.progress.log(PHASE, `${shape.name}: nearby() ${fmtInt(qa)} q/s, GEOSEARCH ${fmtInt(qb)} q/s, ratio ${ratio.toFixed(2)}`);
      const agree = await agreement(fleet.area, viaNearby, viaGeosearch, shape, o.agreementSample);
      const name = `${PHASE}: ${shape.name}`;
      rows.push(
        {
          scenario: name,
          figure: 'nearby() queries/s',
          value: describe(a) + (dropped.length > 0 ? ` — the quietest of ${dropped.length + 1} attempts (other processes used ${dropped.join(', ')} in the others)` : ''),
        },
        { scenario: name, figure: 'GEOSEARCH queries/s (baseline)', value: describe(b) },
        {
          scenario: name,
          figure: 'nearby() ÷ GEOSEARCH throughput',
          value: ratio.toFixed(2),
          ...(shape.target ? { target: `≥ ${TARGET_RATIO}`, met: ratio >= TARGET_RATIO } : {}),
        },
        {
          scenario: name,
          figure: 'Redis CPU per query: nearby() / GEOSEARCH (µs); client CPU per query: nearby() / GEOSEARCH (µs)',
          value:
            `${fmtInt((a.redisCpuS / a.queries) * 1e6)} / ${fmtInt((b.redisCpuS / b.queries) * 1e6)}; ` +
            `${fmtInt((a.clientCpuS / a.queries) * 1e6)} / ${fmtInt((b.clientCpuS / b.queries) * 1e6)}`,
        },
        { scenario: name, figure: `agreement over ${fmtInt(o.agreementSample)} sampled queries`, value: agree },
      );
    }
  } finally {
    await geo.del(geoKey).catch(() => 0);
    geo.disconnect();
  }
  return rows;
}

/** The centres of every H3 cell covering the area. */
function boxCells(area: Area, resolution: number): [number, number][] {
  const dLat = area.halfSideM / 111_320;
  const dLng = area.halfSideM / (111_320 * Math.cos((area.lat * Math.PI) / 180));
  const ring: [number, number][] = [
    [area.lat - dLat, area.lng - dLng], [area.lat - dLat, area.lng + dLng],
    [area.lat + dLat, area.lng + dLng], [area.lat + dLat, area.lng - dLng],
  ];
  return polygonToCells(ring, resolution).map((c) => cellToLatLng(c));
}

/**
 * One nearby() at the centre of every cell of the box: fills the ring
 * planner's per-origin cache with the rings this shape reads, which is the
 * steady state of a process that has served the city for a while (a city of
 * this size has ~8,500 origin cells; the cache holds 1,000,000 cell ids).
 * A cold origin costs several cellToBoundary calls, which would otherwise be
 * measured as if every query came from a new place.
 */
async function warmRingCache(ctx: MatchContext, cells: [number, number][], shape: Shape): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cells.length) {
      const [lat, lng] = cells[next++]!;
      await ctx.store.nearby(lat, lng, shape.radiusM, { limit: shape.limit }, Date.now());
    }
  };
  await Promise.all(Array.from({ length: ctx.options.nearbyConcurrency }, lane));
}

/** Other processes' CPU over both sides' windows, % of one core. */
function noise(a: Tally, b: Tally): number {
  return ((a.othersCpuS + b.othersCpuS) / (a.seconds + b.seconds)) * 100;
}

function emptyTally(): Tally {
  return { queries: 0, seconds: 0, returned: 0, latency: new Histogram(), redisCpuS: 0, clientCpuS: 0, othersCpuS: 0 };
}

function describe(t: Tally): string {
  const qps = t.queries / t.seconds;
  return (
    `${fmtInt(qps)} (latency p50 / p99 ${fmtMs(t.latency.percentile(0.5))} / ${fmtMs(t.latency.percentile(0.99))} ms, ` +
    `${(t.returned / t.queries).toFixed(1)} drivers per answer; Redis ${fmtPct((t.redisCpuS / t.seconds) * 100)}, ` +
    `client ${fmtPct((t.clientCpuS / t.seconds) * 100)}, other processes ${fmtPct((t.othersCpuS / t.seconds) * 100)} of one core)`
  );
}

/** Closed loop with the configured concurrency for `seconds`; adds to `into`. Every query in flight finishes before the clock stops. */
async function measure(ctx: MatchContext, query: Query, shape: Shape, into: Tally, seconds: number, seed: number): Promise<void> {
  const rand = mulberry32(seed);
  const area = ctx.fleet.area;
  const cpu = new CpuWindow(new Map([['redis-server', ctx.redis.pid], ['bench', process.pid]]));
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const p = pointIn(area, rand);
      const t = performance.now();
      const hits = await query(p.lat, p.lng, shape);
      into.latency.record(performance.now() - t);
      into.returned += hits.length;
      into.queries++;
    }
  };
  await Promise.all(Array.from({ length: ctx.options.nearbyConcurrency }, lane));
  const wallS = (performance.now() - start) / 1000;
  const c = cpu.end();
  into.seconds += wallS;
  into.redisCpuS += ((c.perProcess.get('redis-server') ?? NaN) / 100) * wallS;
  into.clientCpuS += ((c.perProcess.get('bench') ?? NaN) / 100) * wallS;
  into.othersCpuS += (c.othersPct / 100) * wallS;
}

/**
 * Runs the same sampled queries through both and compares the driver ids.
 * GEOSEARCH measures distance between 52-bit geohash cell centres (±0.6 m)
 * with its own Earth radius; nearby() from the stored 1e-7° coordinates. So
 * two drivers at nearly the same distance can swap places at the cut-off
 * (10th place, or the radius): the differences found are reported with how
 * far from the cut-off they lie.
 */
async function agreement(area: Area, a: Query, b: Query, shape: Shape, samples: number): Promise<string> {
  const rand = mulberry32(QUERY_SEED ^ 0xa9);
  let identical = 0;
  let common = 0;
  let union = 0;
  let worstEdgeM = 0;
  for (let i = 0; i < samples; i++) {
    const p = pointIn(area, rand);
    const [x, y] = await Promise.all([a(p.lat, p.lng, shape), b(p.lat, p.lng, shape)]);
    const xs = new Set(x.map((h) => h.id));
    const ys = new Set(y.map((h) => h.id));
    const both = [...xs].filter((id) => ys.has(id)).length;
    common += both;
    union += xs.size + ys.size - both;
    if (both === xs.size && both === ys.size) {
      identical++;
      continue;
    }
    // The cut-off: the radius, or the farthest distance nearby() returned when the limit cut it.
    const cutoff = x.length >= shape.limit ? x[x.length - 1]!.distanceM : shape.radiusM;
    for (const h of [...x.filter((h) => !ys.has(h.id)), ...y.filter((h) => !xs.has(h.id))]) {
      worstEdgeM = Math.max(worstEdgeM, Math.abs(h.distanceM - cutoff));
    }
  }
  const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(2)} %`;
  return (
    `identical id sets in ${pct(identical, samples)} of queries; ${pct(common, union)} of all ids returned by either are returned by both; ` +
    (identical === samples ? 'no difference' : `every difference lies within ${worstEdgeM.toFixed(2)} m of the cut-off (radius, or the last place when the limit cuts)`)
  );
}
