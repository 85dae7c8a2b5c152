/**
 * L3, replay rate: how fast `hexfleet replay` rebuilds the geo store from the
 * positions topic into an empty Redis prefix, whether every driver comes back
 * exactly, and what reading the log costs against applying the same batches
 * straight to Redis, in the same run on the same Redis. Measured once per
 * record size (pings per positions record): the store's cost is mostly per
 * driver batch, so the rate depends on it as much as on anything else.
 *
 *   worker ──KafkaEventLog.append(positionRecord)──▶ Kafka  (the log, written once)
 *   hexfleet replay --to now ◀──read── Kafka ──▶ BatchApplier ──applyBatches──▶ Redis (prefix …-replay)
 *   worker (baseline) ─────────────────────────▶ BatchApplier ──applyBatches──▶ Redis (prefix …-direct)
 *   worker (verify)  ◀──DriverStore.get of every driver── both prefixes
 */
import { CITY_BOX } from '../lib/driver-sim.js';
import type { LogContext } from '../lib/log-context.js';
import type { BaselineResult, ProduceResult, ReplayDataConfig, VerifyResult } from '../lib/log-replay-messages.js';
import { CpuWindow } from '../lib/proc-stats.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import { runReplayCli } from '../lib/replay-cli.js';
import { cpuBound, fmtInt, fmtPct, type Row } from '../lib/report.js';
import { type Message, Worker } from '../lib/worker.js';
import { REPLAY_APPLY } from '../../src/replay/batch-applier.js';

/** Issue figure: ≥ 300,000 pings/s applied from the log into Redis. */
const TARGET_PINGS_PER_S = 300_000;
/** The gateway's default (HEXFLEET_KAFKA_PARTITIONS): the log a deployment would replay. */
const PARTITIONS = 6;
const SEED = 0x3e91a;
/** Producing 1,000,000 records and reading them all back take seconds; these bound a hung broker. */
const PRODUCE_TIMEOUT_MS = 10 * 60_000;
const STEP_TIMEOUT_MS = 5 * 60_000;
/** The replay command's Redis command timeout (default 2 s): see where it is set. */
const REDIS_COMMAND_TIMEOUT_MS = 30_000;

export async function runLogReplay(ctx: LogContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const k of ctx.options.replay.pingsPerRecord) rows.push(...(await replayShape(ctx, k)));
  return rows;
}

/** One record size: its own topics, prefixes and worker. */
async function replayShape(ctx: LogContext, pingsPerRecord: number): Promise<Row[]> {
  const o = ctx.options.replay;
  const total = o.positions;
  const drivers = total / (o.recordsPerDriver * pingsPerRecord);
  const phase = `L3 replay, ${pingsPerRecord} ping${pingsPerRecord === 1 ? '' : 's'}/record`;
  const base = `L3 baseline, ${pingsPerRecord}/record`;
  const topicPrefix = `hfbench-l3-${pingsPerRecord}`;
  const replayPrefix = `hfbench-l3-${pingsPerRecord}-replay`;
  const directPrefix = `hfbench-l3-${pingsPerRecord}-direct`;
  const w = new Worker('replay-data', 'log-replay-worker.js');
  try {
    const config: ReplayDataConfig = {
      type: 'config',
      brokers: ctx.kafka.brokers,
      topicPrefix,
      partitions: PARTITIONS,
      redisUrl: ctx.redis.url,
      h3Resolution: ctx.gatewayConfig.h3Resolution,
      drivers,
      pingsPerDriver: o.recordsPerDriver * pingsPerRecord,
      pingsPerRecord,
      recordsPerAppend: Math.ceil(o.pingsPerAppend / pingsPerRecord),
      idTag: 'rpl',
      area: CITY_BOX,
      seed: SEED,
      // Pings of the last minutes: fresh for the store's offline and retention sweeps at the end of the replay.
      startTs: Date.now() - (o.recordsPerDriver * pingsPerRecord + 60) * 1000,
    };
    w.send(config);
    await w.next('ready', 60_000);
    ctx.progress.log(phase, `writing ${fmtInt(total)} positions (${fmtInt(drivers)} drivers × ${o.recordsPerDriver} records × ${pingsPerRecord}) into ${topicPrefix}.positions`);
    w.send({ type: 'produce' } as Message);
    const produced = await w.next<ProduceResult>('produced', PRODUCE_TIMEOUT_MS);
    ctx.progress.log(phase, `${fmtInt(produced.records)} records in ${produced.seconds.toFixed(1)} s (${fmtInt(produced.records / produced.seconds)} records/s)`);

    const watch = new Map([['redis-server', ctx.redis.pid], ['kafka', ctx.kafka.pid], ['replay-data', w.pid], ['bench', process.pid]]);
    await awaitQuietMachine(ctx, phase, watch);
    ctx.progress.log(phase, `hexfleet replay --to now into the empty prefix ${replayPrefix}`);
    const replay = await runReplayCli(
      {
        REDIS_URL: ctx.redis.url,
        HEXFLEET_REDIS_PREFIX: replayPrefix,
        HEXFLEET_KAFKA_BROKERS: ctx.kafka.brokers,
        HEXFLEET_KAFKA_TOPIC_PREFIX: topicPrefix,
        HEXFLEET_KAFKA_PARTITIONS: String(PARTITIONS),
        // As every benchmark's own store (lib/bench-backend.ts): a slow call is measured, not turned into a failed replay.
        HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: String(REDIS_COMMAND_TIMEOUT_MS),
        HEXFLEET_LOG_LEVEL: 'warn',
      },
      watch,
      (line) => ctx.progress.log(phase, line),
    );
    const s = replay.summary;
    const replayRate = s.positions.applied / (s.elapsedMs / 1000);
    ctx.progress.log(phase, `${fmtInt(s.positions.applied)} pings applied in ${(s.elapsedMs / 1000).toFixed(2)} s: ${fmtInt(replayRate)} pings/s (${replay.wallS.toFixed(2)} s from process start to exit)`);

    await awaitQuietMachine(ctx, phase, watch);
    ctx.progress.log(phase, `baseline: the same batches through BatchApplier → applyBatches into ${directPrefix}, no log read`);
    const cpu = new CpuWindow(watch);
    w.send({ type: 'baseline', prefix: directPrefix } as Message);
    const direct = await w.next<BaselineResult>('baseline-done', STEP_TIMEOUT_MS);
    const directCpu = cpu.end();
    const directRate = direct.applied / direct.seconds;
    ctx.progress.log(phase, `baseline: ${fmtInt(direct.applied)} pings in ${direct.seconds.toFixed(2)} s: ${fmtInt(directRate)} pings/s`);

    const verified: VerifyResult[] = [];
    for (const prefix of [replayPrefix, directPrefix]) {
      w.send({ type: 'verify', prefix } as Message);
      const v = await w.next<VerifyResult>('verified', STEP_TIMEOUT_MS);
      ctx.progress.log(phase, `${prefix}: ${fmtInt(v.drivers)} drivers read back, ${v.missing} missing, ${v.mismatches} different${v.examples.length ? ` (${v.examples.join('; ')})` : ''}`);
      verified.push(v);
    }
    const [vr, vd] = verified as [VerifyResult, VerifyResult];
    const wrong = vr.missing + vr.mismatches;
    const ratio = replayRate / directRate;
    const cpuLine = (c: Map<string, number>, others: number, busy: number, own: string): string =>
      `${fmtPct(c.get(own) ?? NaN)} / ${fmtPct(c.get('redis-server') ?? NaN)} / ${fmtPct(c.get('kafka') ?? NaN)} / ${fmtPct(others)}; ${fmtPct(busy)} of all cores`;
    return [
      {
        scenario: phase,
        figure: 'parameters',
        value:
          `${fmtInt(total)} positions: ${fmtInt(drivers)} drivers × ${o.recordsPerDriver} records × ${pingsPerRecord} ping(s) ` +
          `(${fmtInt(produced.records)} records, ${fmtInt(produced.valueBytes / produced.records)} bytes each), a driver's records spread over the log between everyone else's; ` +
          `written straight to ${topicPrefix}.positions (${PARTITIONS} partitions) with KafkaEventLog.append + positionRecord, ${fmtInt(config.recordsPerAppend)} records per append ` +
          `(${fmtInt(produced.records / produced.seconds)} records/s); then \`hexfleet replay --to now --json\` as a child process into an empty Redis prefix ` +
          `(HEXFLEET_REDIS_COMMAND_TIMEOUT_MS=${REDIS_COMMAND_TIMEOUT_MS}: a slow store call is measured, not a failed replay); ` +
          `replay's call sizes (REPLAY_APPLY): ${REPLAY_APPLY.lanes} lanes, up to ${fmtInt(REPLAY_APPLY.maxBatchesPerCall)} batches or ${fmtInt(REPLAY_APPLY.maxPingsPerCall)} pings per applyBatches call`,
      },
      {
        scenario: phase,
        figure: 'pings/s applied from the log into Redis (summary: applied ÷ the replay\'s own elapsed time, reading, applying and the final sweep)',
        value: `${fmtInt(replayRate)} (${fmtInt(s.positions.applied)} pings in ${(s.elapsedMs / 1000).toFixed(2)} s, ${fmtInt(s.positions.storeCalls)} store calls)`,
        target: `≥ ${fmtInt(TARGET_PINGS_PER_S)}`,
        met: replayRate >= TARGET_PINGS_PER_S,
      },
      {
        scenario: phase,
        figure: 'the whole command, process start to exit (Node start, connecting to Redis and Kafka, the replay, closing)',
        value: `${replay.wallS.toFixed(2)} s: ${fmtInt(s.positions.applied / replay.wallS)} pings/s`,
      },
      {
        scenario: phase,
        figure: 'records / pings read, duplicates, undecodable',
        value: `${fmtInt(s.positions.records)} / ${fmtInt(s.positions.pings)}, ${fmtInt(s.positions.duplicates)}, ${fmtInt(s.undecodable.count)}`,
      },
      {
        scenario: phase,
        figure: 'drivers rebuilt and verified (DriverStore.get of every driver = its last ping written: position, ts, seq, acc/spd/hdg, sticky status, vehicle, cell, indexed)',
        value: `${fmtInt(vr.drivers - wrong)} of ${fmtInt(vr.drivers)}; missing ${fmtInt(vr.missing)}, mismatches ${fmtInt(vr.mismatches)}${vr.examples.length ? ` (${vr.examples.join('; ')})` : ''}`,
        target: '0 missing or different',
        met: wrong === 0 && vr.drivers === drivers,
      },
      {
        scenario: phase,
        figure: 'CPU during the command: replay / Redis / Kafka / other processes (% of one core); machine busy',
        value: cpuLine(replay.cpu, replay.othersPct, replay.machineBusyPct, 'replay'),
      },
      { scenario: phase, figure: 'CPU-bound processes (replay)', value: cpuBound(replay.cpu) },
      {
        scenario: base,
        figure: 'parameters',
        value:
          `the same batches in the same order, generated before the clock starts, through the replay's BatchApplier (same call sizes) → ` +
          `RedisDriverStore.applyBatches into another empty prefix of the same Redis, from 1 process; no Kafka read, no decoding`,
      },
      {
        scenario: base,
        figure: 'Redis-only apply rate, pings/s',
        value: `${fmtInt(directRate)} (${fmtInt(direct.applied)} pings in ${direct.seconds.toFixed(2)} s, ${fmtInt(direct.calls)} store calls)`,
      },
      {
        scenario: base,
        figure: 'CPU: applying process / Redis / Kafka / other processes (% of one core); machine busy',
        value: cpuLine(directCpu.perProcess, directCpu.othersPct, directCpu.machineBusyPct, 'replay-data'),
      },
      {
        scenario: base,
        figure: 'drivers verified in the baseline prefix',
        value: `${fmtInt(vd.drivers - vd.missing - vd.mismatches)} of ${fmtInt(vd.drivers)}`,
      },
      { scenario: base, figure: 'replay from the log ÷ Redis-only apply (what reading and decoding the log costs)', value: ratio.toFixed(2) },
    ];
  } finally {
    await w.stop();
  }
}
