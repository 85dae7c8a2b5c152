/**
 * C, where WAIT goes: WAIT counts the replicas that hold the last write *of
 * its own connection*, so it must follow the writes — and it blocks that
 * connection until it answers, so the commands pipelined behind it wait too.
 * Does that hurt the reads that share the connection (a driver lookup, a
 * nearby query of a match)? Three set-ups on the same Sentinel group, each
 * with a writer (RedisDriverStore.applyBatches, `inflight` calls at a time)
 * and a reader (DriverStore.get, one at a time) in this process:
 *
 *   no WAIT     one connection, MIN_REPLICAS_ACK 0                 (baseline)
 *   shared      one connection for writes, WAITs and reads         (what the engine does)
 *   dedicated   writes + WAITs on one connection, reads on another (the alternative)
 *
 * each measured with the replica healthy, then with the replica stalled
 * (SIGSTOP for `stallS` seconds: every WAIT runs into its timeout).
 */
import { pino } from 'pino';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/create-backend.js';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { Histogram } from '../lib/histogram.js';
import { fmtInt, fmtMs, type Row } from '../lib/report.js';
import type { HaContext } from './ha-context.js';

const PHASE = 'C wait connection';
const DRIVERS = 10_000;

type Setup = 'no WAIT' | 'shared' | 'dedicated';

interface Measured {
  reads: Histogram;
  writesPerS: number;
  writeErrors: number;
}

async function open(ctx: HaContext, prefix: string, minReplicasAck: number): Promise<Backend> {
  const backend = createBackend(
    {
      ...ctx.topology.backendConfig(),
      redisUrl: '',
      redisPrefix: prefix,
      redisCommandTimeoutMs: 30_000,
      h3Resolution: 9,
      staleMs: 600_000,
      offlineMs: 3_600_000,
      retentionMs: 86_400_000,
      redisMinReplicasAck: minReplicasAck,
      redisReplicaAckTimeoutMs: ctx.gatewayConfig.redisReplicaAckTimeoutMs,
    } as Parameters<typeof createBackend>[0],
    pino({ level: 'silent' }),
  );
  await backend.waitUntilReady(10_000);
  return backend;
}

/** Writes and reads for `seconds`; the reader's latency, the writer's rate. */
async function measure(writer: Backend, reader: Backend, seconds: number, batchDrivers: number, inflight: number, seqBase: { n: number }): Promise<Measured> {
  const until = performance.now() + seconds * 1000;
  const reads = new Histogram();
  let writes = 0;
  let writeErrors = 0;
  const write = async (): Promise<void> => {
    while (performance.now() < until) {
      const seq = ++seqBase.n;
      const batches: DriverBatch[] = Array.from({ length: batchDrivers }, (_, i) => ({
        driverId: `c-${(seq * batchDrivers + i) % DRIVERS}`,
        pings: [{ seq, lat: 52.4 + ((seq + i) % 1000) * 0.0002, lng: 13.3 + (i % 1000) * 0.0003, ts: Date.now(), status: 'available' }],
      })) as DriverBatch[];
      try {
        await writer.drivers.applyBatches(batches, Date.now());
        writes++;
      } catch {
        writeErrors++;
      }
    }
  };
  const read = async (): Promise<void> => {
    let i = 0;
    while (performance.now() < until) {
      const t = performance.now();
      await reader.drivers.get(`c-${i++ % DRIVERS}`, Date.now()).catch(() => null);
      reads.record(performance.now() - t);
    }
  };
  await Promise.all([...Array.from({ length: inflight }, write), read()]);
  return { reads, writesPerS: writes / seconds, writeErrors };
}

export async function runWaitConnection(ctx: HaContext): Promise<Row[]> {
  const o = ctx.options.waitConnection;
  const seconds = ctx.options.durationS;
  const seq = { n: 0 };
  const results: { setup: Setup; healthy: Measured; stalled: Measured }[] = [];
  for (const setup of ['no WAIT', 'shared', 'dedicated'] as Setup[]) {
    const prefix = `hfbench-ha-c-${setup.replace(/\W/g, '')}`;
    const writer = await open(ctx, prefix, setup === 'no WAIT' ? 0 : 1);
    const reader = setup === 'dedicated' ? await open(ctx, prefix, 0) : writer;
    try {
      await ctx.topology.waitReady();
      await measure(writer, reader, ctx.options.warmupS, o.batchDrivers, o.inflight, seq);
      ctx.progress.log(PHASE, `${setup}: replica healthy, ${seconds} s`);
      const healthy = await measure(writer, reader, seconds, o.batchDrivers, o.inflight, seq);
      const stalledNode = await ctx.topology.replica();
      ctx.progress.log(PHASE, `${setup}: replica on port ${stalledNode.port} stalled (SIGSTOP), ${o.stallS} s`);
      stalledNode.pause();
      let stalled: Measured;
      try {
        stalled = await measure(writer, reader, o.stallS, o.batchDrivers, o.inflight, seq);
      } finally {
        stalledNode.resume();
      }
      results.push({ setup, healthy, stalled });
      ctx.progress.log(PHASE, `${setup}: read p99 ${fmtMs(healthy.reads.percentile(0.99))} ms healthy, ${fmtMs(stalled.reads.percentile(0.99))} ms stalled`);
    } finally {
      if (reader !== writer) await reader.close();
      await writer.close();
    }
  }
  return rows(ctx, results);
}

function rows(ctx: HaContext, results: { setup: Setup; healthy: Measured; stalled: Measured }[]): Row[] {
  const o = ctx.options.waitConnection;
  const lat = (h: Histogram): string => `${fmtMs(h.percentile(0.5))} / ${fmtMs(h.percentile(0.99))} / ${fmtMs(h.maxMs)} ms (${fmtInt(h.count)} reads)`;
  return [
    {
      scenario: 'C wait connection',
      figure: 'parameters',
      value:
        `${ctx.topology.description}; in the bench process: a writer (RedisDriverStore.applyBatches of ${o.batchDrivers} drivers × 1 ping, ${o.inflight} calls in flight) ` +
        `and a reader (DriverStore.get, 1 in flight) over ${fmtInt(DRIVERS)} drivers; each set-up ${ctx.options.warmupS} s warm-up, ${ctx.options.durationS} s with the replica healthy, ` +
        `then ${o.stallS} s with the replica stopped (SIGSTOP); WAIT timeout ${ctx.gatewayConfig.redisReplicaAckTimeoutMs} ms`,
    },
    ...results.flatMap(({ setup, healthy, stalled }): Row[] => [
      { scenario: `C ${setup}`, figure: 'replica healthy: read p50 / p99 / max; writes/s', value: `${lat(healthy.reads)}; ${fmtInt(healthy.writesPerS)}` },
      {
        scenario: `C ${setup}`,
        figure: 'replica stalled: read p50 / p99 / max; writes/s (failed writes)',
        value: `${lat(stalled.reads)}; ${fmtInt(stalled.writesPerS)} (${fmtInt(stalled.writeErrors)})`,
      },
    ]),
  ];
}
