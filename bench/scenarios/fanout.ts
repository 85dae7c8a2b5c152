import { cellToLatLng, latLngToCell } from 'h3-js';
import type { GatewayProcess } from '../../kit/gateway-process.js';
import type { RedisServer } from '../../kit/redis-server.js';
import { metricSum, type Scrape } from '../../kit/metrics-scrape.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { sleep } from '../lib/clock.js';
import type { Progress } from '../lib/clock.js';
import type { FanoutConfig, FanoutGo, FanoutStopped } from '../lib/fanout-messages.js';
import type { RunOptions } from '../lib/options.js';
import { CpuWindow, waitForQuiet } from '../lib/proc-stats.js';
import { bucketQuantile, type BucketQuantile, fmtBucketQuantile, histogramDelta } from '../lib/prom-histogram.js';
import { fmtInt, fmtPct, type Row } from '../lib/report.js';
import { Worker } from '../lib/worker.js';

/** Every parameter of a bench:fanout run. */
export interface FanoutOptions extends RunOptions {
  /** Publish rates tried in turn, positions/s. */
  rates: number[];
  /** Markets the positions are spread over (evenly). */
  markets: number;
  driversPerMarket: number;
}

export interface FanoutContext {
  options: FanoutOptions;
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
  /** A follower gateway's environment, with its own settings on top. */
  env(settings: Record<string, string>): Record<string, string>;
}

/** Issue 10: a follower whose read-index delay p99 passes this has reached what it can follow. */
export const DELAY_P99_LIMIT_MS = 50;
/** A follower at this share of one core is saturated (Node applies positions on one thread). */
export const CPU_SATURATED_PCT = 90;
/** A publish every 20 ms: the ingest pipeline writes (and publishes) about that often at 20,000 pings/s with its default flush. */
const TICK_MS = 20;
/** Res-3 market centers (Europe's big cities, far apart): one area each. */
const CITIES: [number, number][] = [
  [52.52, 13.405], [48.137, 11.575], [50.11, 8.68], [53.55, 9.99], [48.856, 2.352], [51.507, -0.128],
  [40.416, -3.703], [41.902, 12.496], [52.37, 4.9], [59.329, 18.069], [55.676, 12.568], [50.075, 14.437],
  [47.497, 19.04], [52.23, 21.012], [48.208, 16.373], [38.722, -9.139],
];
const AREA_RESOLUTION = 3;
/**
 * The ladder stops once the publisher reaches less than this share of the
 * rate: the machine, not the follower, is then the limit (the follower's CPU
 * per position is still measured at whatever rate it got).
 */
const PUBLISHER_SHORT = 0.5;

/** What one step measured on one follower. */
interface Follow {
  decodedPerS: number;
  bytesPerS: number;
  cpuPct: number;
  /** CPU per decoded position above the follower's idle CPU, µs. */
  usPerPosition: number;
  p50: BucketQuantile;
  p99: BucketQuantile;
  applied: number;
}

/**
 * One publisher process (a gateway's RedisPositionBus) publishes positions
 * spread evenly over M markets at increasing rates; two follower gateways
 * (`hexfleet serve`, read index local) listen: ALL follows every area (the
 * default), ONE follows one market (HEXFLEET_MARKETS). Per step: what each
 * decodes per second, its CPU, CPU per decoded position, the read-index
 * delay; the run stops after the step where ALL's delay p99 exceeds 50 ms or
 * its CPU reaches 90 % of a core, or where the publisher could not keep its
 * rate (then the machine, not the follower, was the limit).
 */
export async function runFanout(ctx: FanoutContext): Promise<Row[]> {
  const o = ctx.options;
  const log = (s: string): void => ctx.progress.log('fanout', s);
  const markets = CITIES.slice(0, o.markets).map(([lat, lng]) => {
    const [clat, clng] = cellToLatLng(latLngToCell(lat, lng, AREA_RESOLUTION));
    return { lat: clat, lng: clng };
  });
  const gateways: GatewayProcess[] = [];
  const publisher = new Worker('publisher', 'fanout-publisher.js');
  try {
    const all = await startBenchGateway('follower-all', ctx.env({}), ctx.tmpDir);
    gateways.push(all);
    const one = await startBenchGateway('follower-one', ctx.env({ HEXFLEET_MARKETS: `${markets[0]!.lat},${markets[0]!.lng}` }), ctx.tmpDir);
    gateways.push(one);
    const config: FanoutConfig = {
      type: 'config', redisUrl: ctx.redis.url, prefix: ctx.env({}).HEXFLEET_REDIS_PREFIX!, areaResolution: AREA_RESOLUTION, markets, driversPerMarket: o.driversPerMarket,
    };
    publisher.send(config);
    await publisher.next('ready', 60_000);
    log(`followers up; publisher ready: ${o.markets} markets × ${fmtInt(o.driversPerMarket)} drivers`);

    const rows: Row[] = [{
      scenario: 'fanout',
      figure: 'parameters',
      value: `one publisher process (RedisPositionBus.publish, a publish every ${TICK_MS} ms, no store write) over ${o.markets} res-${AREA_RESOLUTION} markets × ${fmtInt(o.driversPerMarket)} drivers, ` +
        `evenly; follower ALL (every area, one PSUBSCRIBE) and follower ONE (HEXFLEET_MARKETS = market 1), both \`hexfleet serve\` with the read index on; ` +
        `rates ${o.rates.map(fmtInt).join(', ')} positions/s, ${o.warmupS} s warm-up + ${o.durationS} s measured each`,
    }];
    const pids = new Map([['follower ALL', all.pid], ['follower ONE', one.pid], ['publisher', publisher.pid], ['Redis', ctx.redis.pid]]);
    const quiet = async (): Promise<void> => {
      if (o.waitQuietS > 0) await waitForQuiet(pids, 50, o.waitQuietS, (pct) => log(`waiting for other processes to go quiet (${fmtPct(pct)} of a core)`));
    };
    // Baseline, same run: each follower's CPU with nothing published (timers, the sweeps, the metrics scrapes).
    await quiet();
    const idle = new CpuWindow(pids);
    await sleep(o.durationS * 1000);
    const idleUsed = idle.end();
    const idlePct = { all: idleUsed.perProcess.get('follower ALL')!, one: idleUsed.perProcess.get('follower ONE')! };
    rows.push({
      scenario: 'fanout',
      figure: 'baseline: followers idle (nothing published)',
      value: `ALL ${fmtPct(idlePct.all)}, ONE ${fmtPct(idlePct.one)} of a core; other processes ${fmtPct(idleUsed.othersPct)}`,
    });
    let capacity: { rate: number; all: Follow } | undefined;
    let limit = 'the last rate tried';
    let firstOverDelay: number | undefined;
    /** CPU per position at the highest steady rate decoded (the most signal above the idle baseline). */
    let busiest: Follow | undefined;
    for (const rate of o.rates) {
      try {
        await quiet();
        const go: FanoutGo = { type: 'go', rate, tickMs: TICK_MS };
        publisher.send(go);
        await sleep(o.warmupS * 1000);
        const [a0, b0] = [await all.scrape(), await one.scrape()];
        const cpu = new CpuWindow(pids);
        await sleep(o.durationS * 1000);
        const used = cpu.end();
        const [a1, b1] = [await all.scrape(), await one.scrape()];
        publisher.send({ type: 'stop' });
        const pub = await publisher.next<FanoutStopped>('stopped', 120_000);
        const fa = follow(a0, a1, used.perProcess.get('follower ALL')!, idlePct.all, o.durationS);
        const fb = follow(b0, b1, used.perProcess.get('follower ONE')!, idlePct.one, o.durationS);
        const achieved = pub.positions / pub.seconds;
        const ratio = (x: number, y: number): string => (y > 0 ? (x / y).toFixed(3) : 'n/a');
        rows.push({
          scenario: 'fanout',
          figure: `${fmtInt(rate)} positions/s offered (published ${fmtInt(achieved)}/s; publisher late ≤ ${Math.round(pub.worstLateMs)} ms)`,
          value: `ALL: decoded ${fmtInt(fa.decodedPerS)}/s, CPU ${fmtPct(fa.cpuPct)} = ${fa.usPerPosition.toFixed(2)} µs/position, delay p50 / p99 ${fmtBucketQuantile(fa.p50)} / ${fmtBucketQuantile(fa.p99)}; ` +
            `ONE: decoded ${fmtInt(fb.decodedPerS)}/s (${ratio(fb.decodedPerS, fa.decodedPerS)} of ALL's), bytes ${ratio(fb.bytesPerS, fa.bytesPerS)}, CPU ${fmtPct(fb.cpuPct)}, above idle ${ratio(fb.cpuPct - idlePct.one, fa.cpuPct - idlePct.all)} of ALL's, delay p99 ${fmtBucketQuantile(fb.p99)}; ` +
            `publisher CPU ${fmtPct(used.perProcess.get('publisher')!)}, Redis ${fmtPct(used.perProcess.get('Redis')!)}, other processes ${fmtPct(used.othersPct)}`,
        });
        log(rows.at(-1)!.figure + ': ' + rows.at(-1)!.value);
        // Only a step whose decoding kept pace with publishing (no backlog from the warm-up in the window) says what a position costs.
        const steady = Math.abs(fa.decodedPerS - achieved) <= 0.1 * achieved;
        if (steady && (!busiest || fa.decodedPerS > busiest.decodedPerS)) busiest = fa;
        // A delay past the bound on this shared machine can be another process's doing: noted, and the ladder goes on.
        if (fa.p99.ms > DELAY_P99_LIMIT_MS) firstOverDelay ??= rate;
        else if (fa.cpuPct < CPU_SATURATED_PCT) capacity = { rate: fa.decodedPerS, all: fa };
        if (fa.cpuPct >= CPU_SATURATED_PCT) {
          limit = `CPU at ${fmtPct(fa.cpuPct)} at ${fmtInt(rate)}/s offered`;
          break;
        }
        if (achieved < rate * PUBLISHER_SHORT) {
          limit = `the publisher (one process on this 2-core machine) could not publish more than ${fmtInt(achieved)}/s of ${fmtInt(rate)}/s`;
          break;
        }
      } catch (err) {
        // A step that fails (a starved publisher that never answers) ends the ladder; the steps before it stand.
        limit = `${fmtInt(rate)}/s, which failed: ${(err as Error).message}`;
        rows.push({ scenario: 'fanout', figure: `${fmtInt(rate)} positions/s offered`, value: `failed: ${(err as Error).message}` });
        break;
      }
    }
    rows.push({
      scenario: 'fanout',
      figure: 'what one gateway can follow (positions/s decoded and applied, one core)',
      value: (capacity
        ? `${fmtInt(capacity.rate)}/s decoded within delay p99 ≤ ${DELAY_P99_LIMIT_MS} ms and CPU < ${CPU_SATURATED_PCT} % (the highest such rate measured)`
        : `no rate met delay p99 ≤ ${DELAY_P99_LIMIT_MS} ms and CPU < ${CPU_SATURATED_PCT} % on this machine`) +
        (busiest ? `; at ${fmtInt(busiest.decodedPerS)}/s decoded ALL spent ${busiest.usPerPosition.toFixed(2)} µs of CPU per position above idle: one core would decode about ${fmtInt(1e6 / busiest.usPerPosition)}/s` : '') +
        `; the ladder stopped at ${limit}` + (firstOverDelay !== undefined ? `; delay p99 first past ${DELAY_P99_LIMIT_MS} ms at ${fmtInt(firstOverDelay)}/s offered` : ''),
    });
    return rows;
  } finally {
    await publisher.stop();
    for (const g of gateways) await g.stop();
  }
}

function follow(s0: Scrape, s1: Scrape, cpuPct: number, idlePct: number, seconds: number): Follow {
  const d = (name: string): number => metricSum(s1, name) - metricSum(s0, name);
  const decoded = d('hexfleet_position_bus_positions_received_total');
  const h = histogramDelta([s0], [s1], 'hexfleet_read_index_delay_seconds');
  return {
    decodedPerS: decoded / seconds,
    bytesPerS: d('hexfleet_position_bus_bytes_received_total') / seconds,
    cpuPct,
    usPerPosition: decoded > 0 ? (Math.max(0, cpuPct - idlePct) / 100) * seconds * 1e6 / decoded : NaN,
    p50: bucketQuantile(h, 0.5),
    p99: bucketQuantile(h, 0.99),
    applied: h.count,
  };
}
