import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from '../../kit/kafka-broker.js';
import { metricSum, type Scrape } from '../../kit/metrics-scrape.js';
import { MirrorMaker } from '../../kit/mirror-maker.js';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import type { EventLog } from '../../src/eventlog/event-log.js';
import { HEADERS, topicsOf } from '../../src/eventlog/topics.js';
import type { DriverView } from '../../src/geo/driver-store.js';
import { decodePositionRecord, positionRecord } from '../../src/ingest/position-records.js';
import { orderEventRecord } from '../../src/orders/order-events.js';
import type { OrderDoc } from '../../src/orders/order.js';
import { mirroredTopicsOf } from '../../src/replication/mirrored-topics.js';
import { ping, startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import type { RawDriverClient } from '../support/raw-driver-client.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Cross-region replication, both directions at once, all real: two regions
 * `a` and `b`, each with its own Kafka broker, its own Redis and its own
 * gateway (HEXFLEET_REGION, HEXFLEET_REPLICATE_FROM the other), and ONE
 * MirrorMaker 2 process mirroring a->b and b->a (kit/mirror-maker.ts).
 *
 * Drivers stream into a only, into b only, and some into both with
 * interleaved seqs; orders are committed in a and in b. Afterwards every
 * driver record and every order is equal in both regions' Redis, and the
 * loop checks hold: each region's own topics hold only its own records (the
 * applier never appends), no `a.b.x` / `b.a.x` topic exists, and no applier
 * ever met a record of its own region.
 */

const quiet = pino({ level: 'silent' });
const PREFIX = `repl-${randomUUID().slice(0, 8)}`;
const PARTITIONS = 3;
/** A day ahead: no deadline of the test's orders falls due while it runs (no poller in either region touches them). */
const FAR = 24 * 3600_000;

interface Region {
  name: 'a' | 'b';
  broker: KafkaBroker;
  redis: RedisServer;
  gateway: TestGateway;
  /** A reader of this region's Kafka (outside any group). */
  log: EventLog;
}

let mirror: MirrorMaker | undefined;
const regions: Partial<Record<'a' | 'b', Region>> = {};
const brokers: KafkaBroker[] = [];
const redises: RedisServer[] = [];
const logs: EventLog[] = [];
/** What each region's gateway acked: region → driverId#seq. */
const sentTo = { a: new Set<string>(), b: new Set<string>() };

function region(name: 'a' | 'b'): Region {
  const r = regions[name];
  if (!r) throw new Error(`region ${name} did not start`);
  return r;
}

beforeAll(async () => {
  const [ka, kb, ra, rb] = await Promise.all([KafkaBroker.start(), KafkaBroker.start(), RedisServer.start(), RedisServer.start()]);
  brokers.push(ka, kb);
  redises.push(ra, rb);
  // The gateways first: they create their topics, and each applier creates the mirrored topics it consumes.
  const gateway = (name: 'a' | 'b', broker: KafkaBroker, redis: RedisServer, other: string): Promise<TestGateway> =>
    startTestGateway('redis', {
      redisUrl: redis.url,
      env: {
        HEXFLEET_KAFKA_BROKERS: broker.brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: PREFIX, HEXFLEET_KAFKA_PARTITIONS: String(PARTITIONS),
        HEXFLEET_KAFKA_TIMEOUT_MS: '10000', HEXFLEET_REGION: name, HEXFLEET_REPLICATE_FROM: other,
      },
    });
  const [ga, gb] = await Promise.all([gateway('a', ka, ra, 'b'), gateway('b', kb, rb, 'a')]);
  for (const [name, broker, redis, gw] of [['a', ka, ra, ga], ['b', kb, rb, gb]] as const) {
    const log = new KafkaEventLog({ brokers: [broker.brokers], clientId: `repl-test-${name}`, timeoutMs: 15_000, replicationFactor: 1, fetchMaxWaitMs: 100 }, quiet);
    logs.push(log);
    regions[name] = { name, broker, redis, gateway: gw, log };
  }
  mirror = await MirrorMaker.start({
    clusters: [{ alias: 'a', brokers: ka.brokers }, { alias: 'b', brokers: kb.brokers }],
    topics: `${PREFIX.replace(/[.-]/g, (c) => `\\${c}`)}\\..*`,
  });
  // MirrorMaker has started when its herders have; its connectors find the topics and start their tasks a few seconds
  // later. One driver per region, until the other region holds it: the tests then measure replication, not that start.
  await Promise.all((['a', 'b'] as const).map(async (name) => {
    const from = region(name);
    const to = region(name === 'a' ? 'b' : 'a');
    const id = `warmup-${name}-${PREFIX}`;
    const client = await from.gateway.connectDriver(id, 'msgpack');
    expect((await client.sendBatch([ping(1)])).type).toBe('ack');
    sentTo[name].add(`${id}#1`);
    await waitFor(async () => (await to.gateway.gateway.backend.drivers.get(id, Date.now())) !== null, { timeoutMs: 90_000, intervalMs: 100, what: `the warm-up driver of ${name} in the other region` });
    await client.terminate();
  }));
}, 180_000);

afterAll(async () => {
  await stopAllGateways();
  for (const log of logs) await log.close();
  await mirror?.stop();
  await Promise.all([...brokers.map((b) => b.stop()), ...redises.map((r) => r.stop())]);
}, 60_000);

/** A driver's record as both regions must agree on it (the age is the reader's, not the record's). */
function comparable(v: DriverView | null): unknown {
  if (!v) return null;
  const { ageMs: _age, stale: _stale, ...rest } = v;
  return rest;
}

async function connect(r: Region, driverId: string): Promise<RawDriverClient> {
  return r.gateway.connectDriver(driverId, 'msgpack');
}

/** Every topic of a region's cluster. */
async function topicsOfCluster(r: Region): Promise<string[]> {
  const admin = new Kafka({ clientId: 'repl-test-topics', brokers: [r.broker.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

/** (driverId#seq → origin header) of every record of a positions topic. */
async function positionsIn(log: EventLog, topic: string): Promise<{ pings: Set<string>; origins: Set<string> }> {
  const pings = new Set<string>();
  const origins = new Set<string>();
  await log.read(topic, { kind: 'earliest' }, undefined, async (batch) => {
    for (const rec of batch.records) {
      origins.add(rec.headers[HEADERS.originRegion] ?? '(none)');
      const b = decodePositionRecord(rec.value, rec.headers);
      for (const p of b.pings) pings.add(`${b.driverId}#${p.seq}`);
    }
  });
  return { pings, origins };
}

/** p-quantile of a Prometheus histogram as the upper bound of the bucket it falls in (what histogram_quantile reads, without interpolation). */
function histogramBound(s: Scrape, name: string, labels: Record<string, string>, q: number): number {
  const buckets: { le: number; count: number }[] = [];
  for (const [key, v] of s.series) {
    if (!key.startsWith(`${name}_bucket{`)) continue;
    if (!Object.entries(labels).every(([l, x]) => key.includes(`${l}="${x}"`))) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (le !== undefined) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: v });
  }
  buckets.sort((x, y) => x.le - y.le);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  return buckets.find((b) => b.count >= q * total)?.le ?? NaN;
}

describe('cross-region replication over MirrorMaker 2 (two regions, both directions at once)', () => {
  const onlyA = Array.from({ length: 12 }, (_, i) => `ra-${PREFIX}-${i}`);
  const onlyB = Array.from({ length: 12 }, (_, i) => `rb-${PREFIX}-${i}`);
  const both = Array.from({ length: 6 }, (_, i) => `rab-${PREFIX}-${i}`);

  it('drivers streaming into both regions (some into both, seqs interleaved) end with equal records in both Redis', async () => {
    const a = region('a');
    const b = region('b');
    const clients = new Map<string, RawDriverClient>();
    const open = async (r: Region, id: string): Promise<void> => {
      clients.set(`${r.name}:${id}`, await connect(r, id));
    };
    await Promise.all([...onlyA.map((id) => open(a, id)), ...onlyB.map((id) => open(b, id)), ...both.flatMap((id) => [open(a, id), open(b, id)])]);
    const base = Date.now() - 60_000;
    const send = async (r: Region, id: string, seq: number): Promise<void> => {
      // A path east, one step per seq: the newest seq is the easternmost point, whoever received it.
      const reply = await clients.get(`${r.name}:${id}`)!.sendBatch([ping(seq, { ts: base + seq * 1000, lat: 52.5, lng: 13.3 + seq * 1e-4, status: 'available' })]);
      expect(reply.type, `${id} seq ${seq} in ${r.name}`).toBe('ack');
      sentTo[r.name].add(`${id}#${seq}`);
    };
    for (let seq = 1; seq <= 20; seq++) {
      await Promise.all([
        ...onlyA.map((id) => send(a, id, seq)),
        ...onlyB.map((id) => send(b, id, seq)),
        // Odd seqs to a, even ones to b: each region holds half of the driver's pings until replication brings the rest.
        ...both.map((id) => send(seq % 2 === 1 ? a : b, id, seq)),
      ]);
    }
    const ids = [...onlyA, ...onlyB, ...both];
    const read = async (r: Region, id: string): Promise<unknown> => comparable(await r.gateway.gateway.backend.drivers.get(id, Date.now()));
    let unequal: string[] = [];
    await waitFor(async () => {
      const pairs = await Promise.all(ids.map(async (id) => [id, await read(a, id), await read(b, id)] as const));
      unequal = pairs.filter(([, x, y]) => x === null || JSON.stringify(x) !== JSON.stringify(y)).map(([id]) => id);
      return unequal.length === 0;
    }, { timeoutMs: 60_000, intervalMs: 200, what: 'equal driver records in both regions' }).catch((err: Error) => {
      throw new Error(`${err.message}; unequal: ${unequal.join(', ')}`);
    });
    for (const id of ids) {
      const rec = (await a.gateway.gateway.backend.drivers.get(id, Date.now()))!;
      // Both regions converged on the driver's newest ping, wherever it was sent.
      expect(rec.seq, id).toBe(20);
      expect(rec.lng, id).toBeCloseTo(13.3 + 20 * 1e-4, 7);
    }
    // The scan agrees too: every test driver is in both stores' full scans, with the same record.
    const scanned = async (r: Region): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      await r.gateway.gateway.backend.drivers.scan((page) => {
        for (const rec of page) if (rec.driverId.includes(PREFIX) && !rec.driverId.startsWith('warmup-')) out.set(rec.driverId, JSON.stringify(rec));
      });
      return out;
    };
    const [sa, sb] = await Promise.all([scanned(a), scanned(b)]);
    expect(sa.size).toBe(ids.length);
    expect([...sa.entries()].sort()).toEqual([...sb.entries()].sort());
    for (const c of clients.values()) await c.terminate();
  }, 120_000);

  it('orders committed in either region appear in the other at the same version (a finished one as finished)', async () => {
    const a = region('a');
    const b = region('b');
    const now = Date.now();
    const newDoc = (orderId: string): OrderDoc => ({
      orderId, state: 'searching', request: { orderId, pickup: { lat: 52.52, lng: 13.405 }, radiusM: 2000, mode: 'immediate' },
      requestHash: 'h', attempt: 0, tried: [], history: [], leaseUntil: now + FAR, createdAt: now, updatedAt: now, version: 0,
    });
    const commitIn = async (r: Region, orderId: string, cancel: boolean): Promise<number> => {
      const store = r.gateway.gateway.backend.orders;
      const created = await store.commit(newDoc(orderId), 0, { deadline: now + FAR, event: { type: 'order.created', actor: 'service' } }, now);
      expect(created.ok).toBe(true);
      if (!cancel) return 1;
      const cancelled = await store.commit({ ...newDoc(orderId), state: 'cancelled', leaseUntil: undefined, updatedAt: now + 1, version: 1 }, 1,
        { deadline: null, retainMs: FAR, event: { type: 'order.cancelled', actor: 'service' } }, now + 1);
      expect(cancelled.ok).toBe(true);
      return 2;
    };
    const want = new Map<string, number>();
    for (const [r, tag] of [[a, 'oa'], [b, 'ob']] as const) {
      for (let i = 0; i < 8; i++) {
        const id = `${tag}-${PREFIX}-${i}`;
        want.set(id, await commitIn(r, id, i % 2 === 0));
      }
    }
    const docOf = (r: Region, id: string): Promise<OrderDoc | null> => r.gateway.gateway.backend.orders.get(id);
    await waitFor(async () => {
      for (const [id, version] of want) {
        const [x, y] = await Promise.all([docOf(a, id), docOf(b, id)]);
        if (x?.version !== version || y?.version !== version) return false;
      }
      return true;
    }, { timeoutMs: 60_000, intervalMs: 200, what: 'every order at its version in both regions' });
    for (const id of want.keys()) {
      const [x, y] = await Promise.all([docOf(a, id), docOf(b, id)]);
      expect(y, id).toEqual(x);
    }
  }, 120_000);

  it('no loops: own topics hold only own records, no a.b.x / b.a.x topic, no applier met its own region, both appliers consuming', async () => {
    const a = region('a');
    const b = region('b');
    const topics = topicsOf(PREFIX);
    // Each region's own positions topic holds exactly the pings its gateway acked: the applier wrote nothing there.
    for (const r of [a, b]) {
      const own = await positionsIn(r.log, topics.positions);
      expect([...own.origins], `origins in ${r.name}'s own topic`).toEqual([r.name]);
      expect([...own.pings].sort(), `${r.name}'s own topic`).toEqual([...sentTo[r.name]].sort());
      const other = r.name === 'a' ? 'b' : 'a';
      const mirrored = await positionsIn(r.log, mirroredTopicsOf(other, topics).positions);
      expect([...mirrored.origins], `origins in ${r.name}'s copy of ${other}`).toEqual([other]);
      expect([...mirrored.pings].sort()).toEqual([...sentTo[other]].sort());
    }
    for (const r of [a, b]) {
      const mine = (await topicsOfCluster(r)).filter((t) => t.includes(PREFIX));
      const other = r.name === 'a' ? 'b' : 'a';
      expect(mine.filter((t) => /^(a|b)\.(a|b)\./.test(t)), `mirrored twice on ${r.name}`).toEqual([]);
      expect(mine).toContain(`${other}.${topics.positions}`);
      expect(mine).toContain(`${other}.${topics.orders}`);
      expect(mine.filter((t) => t.startsWith(`${r.name}.`)), `${r.name}'s own records mirrored back to it`).toEqual([]);
      const s = await r.gateway.scrape();
      expect(metricSum(s, 'hexfleet_replication_records_total', { outcome: 'skipped_own_region' })).toBe(0);
      expect(metricSum(s, 'hexfleet_replication_records_total', { outcome: 'failed' })).toBe(0);
      expect(metricSum(s, 'hexfleet_replication_records_total', { source: other, kind: 'positions', outcome: 'applied' })).toBeGreaterThan(0);
      expect(metricSum(s, 'hexfleet_replication_records_total', { source: other, kind: 'orders', outcome: 'applied' })).toBeGreaterThan(0);
      const p50 = histogramBound(s, 'hexfleet_replication_lag_seconds', { source: other }, 0.5);
      const p99 = histogramBound(s, 'hexfleet_replication_lag_seconds', { source: other }, 0.99);
      // What the origin's own append took (its producer's queue included: the record's timestamp is taken when the append starts).
      const o = await region(other).gateway.scrape();
      const topic = topicsOf(PREFIX).positions;
      const appendP50 = histogramBound(o, 'hexfleet_log_append_seconds', { topic }, 0.5);
      const appendP99 = histogramBound(o, 'hexfleet_log_append_seconds', { topic }, 0.99);
      console.log(`replication ${other} -> ${r.name}: lag p50 <= ${p50} s, p99 <= ${p99} s (histogram buckets), records ${metricSum(s, 'hexfleet_replication_records_total', { source: other })}; `
        + `${other}'s positions appends p50 <= ${appendP50} s, p99 <= ${appendP99} s`);
      const ready = await r.gateway.adminGet('/readyz');
      expect(ready.status).toBe(200);
      const body = ready.json as { replication?: Record<string, { state: string; topics: string[] }> };
      expect(body.replication?.[other]?.state).toBe('consuming');
      expect(body.replication?.[other]?.topics).toEqual([`${other}.${topics.positions}`, `${other}.${topics.orders}`]);
    }
  }, 60_000);

  it('guards: a record of the own region is skipped, an undecodable one dead-lettered, an order at an old or the same version skipped', async () => {
    const b = region('b');
    const mirrored = mirroredTopicsOf('a', topicsOf(PREFIX));
    const before = await b.gateway.scrape();
    const count = (s: Scrape, kind: string, outcome: string): number => metricSum(s, 'hexfleet_replication_records_total', { source: 'a', kind, outcome });
    // Appended straight into b's copy of a's topics, as a misconfigured mirror or a corrupt record would put them there.
    const own = `guard-own-${PREFIX}`;
    const ownRecord = positionRecord({ driverId: own, pings: [{ seq: 1, ts: Date.now(), lat: 52.5, lng: 13.4 }] });
    await b.log.append(mirrored.positions, [{ ...ownRecord, headers: { ...ownRecord.headers, [HEADERS.originRegion]: 'b' } }]);
    await b.log.append(mirrored.positions, [{ key: 'guard-garbage', value: Buffer.from('not msgpack rows'), headers: { [HEADERS.schema]: 'positions/1', [HEADERS.originRegion]: 'a' } }]);
    const orderId = `oa-${PREFIX}-0`; // cancelled in a at version 2, replicated to b
    const held = (await b.gateway.gateway.backend.orders.get(orderId))!;
    expect(held.version).toBe(2);
    const event = (version: number) => orderEventRecord({ id: `${orderId}:${version}`, orderId, version, type: 'test', actor: 'test', at: Date.now(), doc: { ...held, state: 'searching', version } });
    await b.log.append(mirrored.orders, [event(1), event(2)].map((r) => ({ ...r, headers: { ...r.headers, [HEADERS.originRegion]: 'a' } })));

    await waitFor(async () => {
      const s = await b.gateway.scrape();
      return count(s, 'positions', 'skipped_own_region') === count(before, 'positions', 'skipped_own_region') + 1
        && count(s, 'positions', 'failed') === count(before, 'positions', 'failed') + 1
        && count(s, 'orders', 'skipped_stale') === count(before, 'orders', 'skipped_stale') + 1
        && count(s, 'orders', 'skipped_duplicate') === count(before, 'orders', 'skipped_duplicate') + 1;
    }, { timeoutMs: 30_000, intervalMs: 100, what: 'the four guard outcomes counted in b' });
    expect(await b.gateway.gateway.backend.drivers.get(own, Date.now())).toBeNull();
    expect(await b.gateway.gateway.backend.orders.get(orderId)).toEqual(held);
    const dead: { key: string; error: string | undefined }[] = [];
    await b.log.read(`${mirrored.positions}.dlq`, { kind: 'earliest' }, undefined, async (batch) => {
      for (const r of batch.records) dead.push({ key: r.key, error: r.headers[HEADERS.error] });
    });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.key).toBe('guard-garbage');
    expect(dead[0]!.error).toMatch(/^undecodable: /);
  }, 60_000);
});
