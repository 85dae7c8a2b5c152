/**
 * Scenario C, memory: what one driver costs at fleet scale, in Redis (bytes
 * of used_memory) and in the embedded memory store (bytes of V8 heap).
 * 1,000,000 parked drivers, one ping each, spread uniformly over 50 metro
 * areas of 30×30 km: a realistic number of occupied H3 cells, which is what
 * the cell index costs.
 */
import { type Message, Worker } from '../lib/worker.js';
import type { IngestContext } from '../lib/ingest-context.js';
import { METRO_CENTRES } from '../lib/driver-sim.js';
import type { MemoryLoadConfig, MemoryLoadResult } from '../lib/messages.js';
import { fmtInt, fmtMB, type Row } from '../lib/report.js';

const PHASE = 'C memory';
/** Issue 2: ≤ 250 bytes of Redis memory per driver at 1,000,000 drivers. */
const TARGET_BYTES = 250;
const SEED = 0xc0ffee;
/** The production default prefix: key names are part of what a driver costs. */
const PREFIX = 'hf';
/** 1,000 drivers per Lua call, 4 in flight: loads fast without one call blocking Redis for long. */
const DRIVERS_PER_CALL = 1000;
const INFLIGHT = 4;

export async function runMemory(ctx: IngestContext): Promise<Row[]> {
  const o = ctx.options.memory;
  const base: Omit<MemoryLoadConfig, 'mode'> = {
    type: 'config',
    redisUrl: ctx.redis.url,
    prefix: PREFIX,
    h3Resolution: ctx.gatewayConfig.h3Resolution,
    drivers: o.drivers,
    metroSideKm: o.metroSideKm,
    seed: SEED,
    driversPerCall: DRIVERS_PER_CALL,
    inflight: INFLIGHT,
  };

  ctx.progress.log(PHASE, 'FLUSHALL, then INFO memory');
  await ctx.redis.client.flushall();
  const before = Number((await ctx.redis.info('memory')).used_memory);
  const redisLoad = await load(ctx, { ...base, mode: 'redis' }, []);
  const after = Number((await ctx.redis.info('memory')).used_memory);
  const keys = await ctx.redis.client.dbsize();
  const perDriver = (after - before) / redisLoad.loaded;
  ctx.progress.log(PHASE, `Redis: ${perDriver.toFixed(0)} bytes per driver (${fmtInt(keys)} keys)`);

  const mem = await load(ctx, { ...base, mode: 'memory' }, ['--expose-gc', '--max-old-space-size=8192']);
  const heapPerDriver = (mem.heapAfter - mem.heapBefore) / mem.storeSize;
  ctx.progress.log(PHASE, `memory store: ${heapPerDriver.toFixed(0)} bytes of heap per driver`);
  await ctx.redis.client.flushall();

  const metros = METRO_CENTRES.length;
  return [
    {
      scenario: 'C memory',
      figure: 'parameters',
      value:
        `${fmtInt(o.drivers)} drivers, one ping each, uniformly spread over ${metros} metro areas of ${o.metroSideKm}×${o.metroSideKm} km ` +
        `(${fmtInt(o.drivers / metros)} per metro, Tokyo to Auckland); driver ids of 10 ASCII chars; H3 resolution ${ctx.gatewayConfig.h3Resolution}; ` +
        `key prefix "${PREFIX}"; loaded through RedisDriverStore.applyBatches (${fmtInt(DRIVERS_PER_CALL)} drivers per call, ${INFLIGHT} in flight) ` +
        `into a Redis emptied with FLUSHALL`,
    },
    {
      scenario: 'C memory',
      figure: 'Redis used_memory per driver ((after − before) ÷ drivers)',
      value: `${perDriver.toFixed(0)} bytes`,
      target: `≤ ${TARGET_BYTES} bytes`,
      met: perDriver <= TARGET_BYTES,
    },
    {
      scenario: 'C memory',
      figure: 'Redis used_memory before / after; keys (record buckets + occupied cells)',
      value: `${fmtMB(before)} / ${fmtMB(after)}; ${fmtInt(keys)} keys; loaded in ${redisLoad.seconds.toFixed(1)} s (${fmtInt(redisLoad.loaded / redisLoad.seconds)} drivers/s)`,
    },
    {
      scenario: 'C memory',
      figure: 'memory store heap per driver (heapUsed + arrayBuffers after gc, delta ÷ drivers)',
      value: `${heapPerDriver.toFixed(0)} bytes (${fmtMB(mem.heapAfter - mem.heapBefore)} for ${fmtInt(mem.storeSize)} drivers)`,
    },
  ];
}

async function load(ctx: IngestContext, config: MemoryLoadConfig, execArgv: string[]): Promise<MemoryLoadResult> {
  const what = config.mode === 'redis' ? 'Redis (RedisDriverStore)' : 'MemoryDriverStore (child with --expose-gc)';
  ctx.progress.log(PHASE, `loading ${fmtInt(config.drivers)} drivers into ${what}`);
  const w = new Worker(`memory-${config.mode}`, 'memory-worker.js', {
    execArgv,
    onProgress: (m) => ctx.progress.log(PHASE, `${fmtInt((m as Message & { loaded: number }).loaded)} drivers loaded`),
  });
  try {
    w.send(config);
    return await w.next<MemoryLoadResult>('result', 600_000);
  } finally {
    await w.stop();
  }
}
