/**
 * The positions of bench:log's replay scenario (L3), owned by one process:
 * it writes them into the log, applies the same batches straight to Redis
 * (the baseline), and checks a rebuilt prefix against them. Forked by
 * scenarios/log-replay.ts; talks to it over IPC (log-replay-messages.ts).
 *
 *   config   ─▶ connect to Kafka, create the topics             ─▶ "ready"
 *   produce  ─▶ KafkaEventLog.append(positionRecord…) in large appends ─▶ "produced"
 *   baseline ─▶ BatchApplier → DriverStore.applyBatches (no log)  ─▶ "baseline-done"
 *   verify   ─▶ DriverStore.get of every driver, compared         ─▶ "verified"
 *
 * The data is a function of the config (seeded), so the baseline applies
 * exactly the batches the log holds, in the order they were appended.
 */
import { pino } from 'pino';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import type { Backend } from '../../src/backend/backend.js';
import type { VehicleType } from '../../src/domain/vehicle.js';
import type { EventLog } from '../../src/eventlog/event-log.js';
import { dlqOf, type Topics, topicsOf } from '../../src/eventlog/topics.js';
import type { DriverBatch, DriverRecord, DriverStatus, Ping } from '../../src/geo/driver-store.js';
import { quantizeMetric } from '../../src/geo/geodesy.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { positionRecord } from '../../src/ingest/position-records.js';
import { BatchApplier, REPLAY_APPLY } from '../../src/replay/batch-applier.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { openBenchBackend } from '../lib/bench-backend.js';
import { DriverSim, driverId } from '../lib/driver-sim.js';
import type { BaselineRequest, BaselineResult, ProduceResult, ReplayDataConfig, VerifyRequest, VerifyResult } from '../lib/log-replay-messages.js';
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

/** Appends in flight while producing: kafkajs sends one request per broker at a time, so a few keep the next one ready. */
const APPENDS_IN_FLIGHT = 4;
/** Reads in flight while verifying: one HGET each, pipelined on the backend's connection. */
const GETS_IN_FLIGHT = 2000;
const EXAMPLES = 5;
/** One driver in five has no vehicle in its token (the record keeps "unknown"). */
const VEHICLES: readonly (VehicleType | undefined)[] = ['car', 'bike', 'scooter', 'walk', undefined];
/** Set on each driver's first ping only: status is sticky, so the last ping's record must still carry it. */
const STATUSES: readonly DriverStatus[] = ['available', 'busy'];

let config: ReplayDataConfig;
let log: EventLog | undefined;
let topics: Topics;
const backends: Backend[] = [];

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as ReplayDataConfig;
    topics = topicsOf(config.topicPrefix);
    log = new KafkaEventLog(
      { brokers: config.brokers.split(','), clientId: 'hfbench-log-replay', timeoutMs: 30_000, replicationFactor: 1 },
      pino({ level: 'warn' }),
    );
    // Every topic a gateway creates, dead-letter topics included: the replay command's backend
    // would otherwise create those in the background while it reads the offsets, and kafkajs can
    // then lose the positions topic's metadata mid-call ("Cannot destructure property 'partitions'").
    await log.ensureTopics([topics.positions, topics.orders].flatMap((name) => [
      { name, partitions: config.partitions },
      { name: dlqOf(name), partitions: 1 },
    ]));
    toParent({ type: 'ready' });
  } else if (m.type === 'produce') {
    toParent(await produce());
  } else if (m.type === 'baseline') {
    toParent(await baseline((m as BaselineRequest).prefix));
  } else if (m.type === 'verify') {
    toParent(await verify((m as VerifyRequest).prefix));
  } else if (m.type === 'exit') {
    await log?.close();
    await Promise.all(backends.map((b) => b.close()));
    process.exit(0);
  }
});

/**
 * Every record's batch in append order: round r holds each driver's r-th
 * record, so one driver's records are spread over the log between everyone
 * else's, as live traffic puts them. Ping k of a driver has seq k + 1 and ts
 * startTs + k s (+ a per-driver offset under a second).
 */
function* batches(): Generator<DriverBatch> {
  const c = config;
  const sims = Array.from({ length: c.drivers }, (_, d) => new DriverSim(driverId(c.idTag, d), c.area, mulberry32(c.seed + d)));
  const rounds = Math.ceil(c.pingsPerDriver / c.pingsPerRecord);
  for (let r = 0; r < rounds; r++) {
    const n = Math.min(c.pingsPerRecord, c.pingsPerDriver - r * c.pingsPerRecord);
    for (let d = 0; d < c.drivers; d++) {
      const lastTs = c.startTs + (r * c.pingsPerRecord + n - 1) * 1000 + (d % 1000);
      const pings: Ping[] = sims[d]!.nextPings(n, 1, 1000, lastTs);
      if (r === 0) pings[0]!.status = STATUSES[d % STATUSES.length]!;
      const vehicle = VEHICLES[d % VEHICLES.length];
      yield vehicle ? { driverId: sims[d]!.id, vehicle, pings } : { driverId: sims[d]!.id, pings };
    }
  }
}

async function produce(): Promise<ProduceResult> {
  const started = performance.now();
  const out = { records: 0, pings: 0, appends: 0, valueBytes: 0 };
  const inflight = new Set<Promise<void>>();
  let chunk: DriverBatch[] = [];
  const flush = async (): Promise<void> => {
    const records = chunk.map(positionRecord);
    chunk = [];
    for (const r of records) out.valueBytes += r.value.length;
    const p = log!.append(topics.positions, records).finally(() => inflight.delete(p));
    inflight.add(p);
    out.appends++;
    if (inflight.size >= APPENDS_IN_FLIGHT) await Promise.race(inflight);
  };
  for (const b of batches()) {
    chunk.push(b);
    out.records++;
    out.pings += b.pings.length;
    if (chunk.length >= config.recordsPerAppend) await flush();
  }
  if (chunk.length > 0) await flush();
  await Promise.all(inflight);
  return { type: 'produced', ...out, seconds: (performance.now() - started) / 1000 };
}

async function openStore(prefix: string): Promise<Backend> {
  const backend = await openBenchBackend({ redisUrl: config.redisUrl, prefix, h3Resolution: config.h3Resolution });
  backends.push(backend);
  return backend;
}

/** The same batches, generated before the clock starts, through the replay's own BatchApplier and call sizes. */
async function baseline(prefix: string): Promise<BaselineResult> {
  const store = (await openStore(prefix)).drivers;
  const all = [...batches()];
  const pings = all.reduce((n, b) => n + b.pings.length, 0);
  const applier = new BatchApplier(store, REPLAY_APPLY);
  const started = performance.now();
  const at = Date.now();
  for (const b of all) {
    const wait = applier.add(b, at);
    if (wait) await wait;
  }
  const totals = await applier.drain();
  const seconds = (performance.now() - started) / 1000;
  return { type: 'baseline-done', pings, applied: totals.applied, duplicates: totals.duplicates, calls: totals.calls, seconds };
}

type Expected = Omit<DriverRecord, 'driverId'>;

/** Each driver's record as it must be after its last ping: that ping's fields, the sticky status, the token's vehicle. */
function expectedRecords(): Map<string, Expected> {
  const planner = new RingPlanner(config.h3Resolution);
  const last = new Map<string, { ping: Ping; status: DriverStatus | 'unknown'; vehicle: VehicleType | 'unknown' }>();
  for (const b of batches()) {
    const prev = last.get(b.driverId);
    let status = prev?.status ?? 'unknown';
    for (const p of b.pings) if (p.status) status = p.status;
    last.set(b.driverId, { ping: b.pings[b.pings.length - 1]!, status, vehicle: b.vehicle ?? prev?.vehicle ?? 'unknown' });
  }
  const out = new Map<string, Expected>();
  for (const [id, { ping: p, status, vehicle }] of last) {
    const rec: Expected = { lat: p.lat, lng: p.lng, ts: p.ts, seq: p.seq, status, vehicle, cell: planner.cellOf(p.lat, p.lng), indexed: true };
    if (p.acc !== undefined) rec.acc = quantizeMetric(p.acc)!;
    if (p.spd !== undefined) rec.spd = quantizeMetric(p.spd)!;
    if (p.hdg !== undefined) rec.hdg = quantizeMetric(p.hdg)!;
    out.set(id, rec);
  }
  return out;
}

const FIELDS: readonly (keyof Expected)[] = ['lat', 'lng', 'ts', 'seq', 'status', 'vehicle', 'cell', 'indexed', 'acc', 'spd', 'hdg'];

async function verify(prefix: string): Promise<VerifyResult> {
  const store = (await openStore(prefix)).drivers;
  const expected = expectedRecords();
  const started = performance.now();
  const ids = [...expected.keys()];
  const result: VerifyResult = { type: 'verified', drivers: ids.length, missing: 0, mismatches: 0, examples: [], seconds: 0 };
  for (let i = 0; i < ids.length; i += GETS_IN_FLIGHT) {
    const slice = ids.slice(i, i + GETS_IN_FLIGHT);
    const now = Date.now();
    const got = await Promise.all(slice.map((id) => store.get(id, now)));
    slice.forEach((id, k) => {
      const rec = got[k];
      if (!rec) {
        result.missing++;
        if (result.examples.length < EXAMPLES) result.examples.push(`${id}: no record`);
        return;
      }
      const want = expected.get(id)!;
      const bad = FIELDS.find((f) => rec[f] !== want[f]);
      if (bad === undefined) return;
      result.mismatches++;
      if (result.examples.length < EXAMPLES) result.examples.push(`${id}: ${bad} got ${String(rec[bad])} want ${String(want[bad])}`);
    });
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
