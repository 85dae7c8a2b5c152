import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import type { VehicleType } from '../../src/domain/vehicle.js';
import type { EventLog } from '../../src/eventlog/event-log.js';
import { type Topics, topicsOf } from '../../src/eventlog/topics.js';
import type { DriverBatch, DriverRecord, DriverStore } from '../../src/geo/driver-store.js';
import { positionRecord } from '../../src/ingest/position-records.js';
import type { OrderDoc } from '../../src/orders/order.js';
import type { OrderStore, Reservation } from '../../src/orders/order-store.js';
import { runReplayCommand } from '../../src/replay/replay-command.js';
import { replayStores, type StoreReplaySummary } from '../../src/replay/store-replay.js';
import type { TrafficSummary } from '../../src/replay/traffic-replay.js';
import { deleteKeysAt, openTestBackend, TEST_TIMING, type TestBackend, uniquePrefix } from '../support/backends.js';
import { startTestGateway, TEST_JWT_SECRET, type TestGateway } from '../support/gateway-harness.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import type { RawDriverClient } from '../support/raw-driver-client.js';

/**
 * Replay against the real thing: a gateway with Kafka configured takes pings
 * from drivers on real WebSockets (so the log holds what ingest logs, resends
 * included), the stores are snapshotted at two moments, wiped, and rebuilt
 * from the log with `hexfleet replay`, into a real redis-server; the traffic
 * is then replayed against a second gateway. A last case measures the
 * replay rate on 200,000 pings appended straight to the log.
 *
 * Orders go through the saga (match, offer, accept, complete, cancel, a
 * match that finds nobody) and reach the orders topic through the gateway's
 * outbox relay; replay restores them with their reservations.
 */

let brokers = '';
let redis: RedisServer;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  brokers = inject('kafkaBrokers') ?? '';
  if (!brokers) throw new Error('no Kafka broker: the global setup provides one (inject("kafkaBrokers")); see kit/kafka-broker.ts and run bash scripts/kafka/install.sh');
  redis = await RedisServer.start();
});

afterAll(async () => {
  for (const o of opened.splice(0).reverse()) await o.close().catch(() => {});
  await redis?.stop();
});

function openLog(): EventLog {
  const log = new KafkaEventLog({ brokers: brokers.split(','), clientId: 'replay-test', timeoutMs: 10_000, replicationFactor: 1, fetchMaxWaitMs: 100 }, pino({ level: 'silent' }));
  opened.push(log);
  return log;
}

async function backendAt(prefix: string): Promise<TestBackend> {
  const b = await openTestBackend('redis', { redisUrl: redis.url, timing: TEST_TIMING, prefix });
  opened.push({ close: () => b.backend.close() });
  return b;
}

type Snapshot = Record<string, DriverRecord | null>;

/** Every field of every driver's record, its cell and index flag included (absent drivers as null); not the age, which is the reader's. */
async function snapshot(store: DriverStore, ids: readonly string[]): Promise<Snapshot> {
  const out: Snapshot = {};
  await Promise.all(
    ids.map(async (id) => {
      const v = await store.get(id, Date.now());
      if (!v) return void (out[id] = null);
      const { ageMs: _a, stale: _s, ...rec } = v;
      out[id] = rec;
    }),
  );
  return out;
}

const VEHICLES: readonly (VehicleType | undefined)[] = ['car', 'bike', 'scooter', 'walk', undefined];
const STATUSES = ['available', 'busy', 'offline'] as const;

/** A driver app: a socket with a token naming its vehicle, and its own seq counter. */
interface App {
  id: string;
  client: RawDriverClient;
  seq: number;
  last: Record<string, unknown>[] | undefined;
}

async function connectApps(gw: TestGateway, ids: readonly string[]): Promise<App[]> {
  return Promise.all(
    ids.map(async (id, i) => {
      const vehicle = VEHICLES[i % VEHICLES.length];
      const token = await gw.tokens.sign({ role: 'driver', sub: id, ...(vehicle ? { vehicle } : {}) });
      return { id, client: await gw.connect({ queryToken: token, encoding: 'msgpack' }), seq: 0, last: undefined };
    }),
  );
}

/** Each app sends `batches` batches of 1–4 pings, one after the other's ack; every third driver resends one batch it already had acked. */
async function stream(apps: App[], batches: number, round: number): Promise<void> {
  await Promise.all(
    apps.map(async (app, i) => {
      for (let b = 0; b < batches; b++) {
        const n = 1 + ((i + b + round) % 4);
        const pings = Array.from({ length: n }, (_, k) => {
          const p: Record<string, unknown> = {
            seq: ++app.seq,
            ts: Date.now() - (n - k) * 50,
            lat: Number((52.45 + ((i * 37 + b * 11 + k) % 100) / 1000).toFixed(7)),
            lng: Number((13.35 + ((i * 53 + b * 7 + k + round) % 100) / 1000).toFixed(7)),
          };
          if ((i + b + k) % 5 === 0) p.status = STATUSES[(i + b + round) % 3];
          if (k === n - 1) Object.assign(p, { acc: 5 + (i % 10), spd: (b % 10) * 1.5, hdg: (i * 7) % 360 });
          return p;
        });
        app.client.sendPings(pings);
        await app.client.waitForAck(app.seq);
        if (b === 1 && i % 3 === 0 && app.last) {
          // A resend of an acked batch: acked again, a duplicate for the store, in the log twice.
          app.client.sendPings(app.last);
          await app.client.waitForAck(app.last.at(-1)!.seq as number);
        }
        app.last = pings;
      }
    }),
  );
}

/** Couriers take the orders: each alone, `available`, at a spot of its own in Hamburg, far from the streaming drivers in Berlin. */
const SPOTS = [0, 1, 2, 3].map((i) => ({ lat: 53.5 + i * 0.05, lng: 10.0 }));
/** Where no driver is: a match there fails (no_driver), a finished order at once. */
const NOWHERE = { lat: 10, lng: 10 };

async function post(gw: TestGateway, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(gw.httpUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${await gw.serviceToken()}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Matches an order at a courier's spot and has the courier accept its offer: the order ends accepted, holding the courier. */
async function acceptedOrder(gw: TestGateway, courier: App, orderId: string, spot: { lat: number; lng: number }): Promise<void> {
  const offered = courier.client.waitForReply((r) => r.type === 'offer' && (r as { orderId?: string }).orderId === orderId, `the offer of ${orderId}`);
  const matched = await post(gw, '/v1/match', { orderId, pickup: spot, radiusM: 1000 });
  expect(matched.status, JSON.stringify(matched.json)).toBe(200);
  await offered;
  const result = courier.client.waitForReply((r) => r.type === 'offer_result' && (r as { orderId?: string }).orderId === orderId, `the result of accepting ${orderId}`);
  courier.client.send({ type: 'offer_reply', orderId, accept: true });
  expect(await result).toMatchObject({ state: 'accepted' });
}

interface OrdersSnapshot {
  docs: Record<string, OrderDoc | null>;
  reservations: Record<string, Reservation | null>;
  open: string[];
}

/** Every order as `get` reads it, every courier's reservation, and the open set. */
async function ordersSnapshot(orders: OrderStore, ids: readonly string[], couriers: readonly string[]): Promise<OrdersSnapshot> {
  const docs: Record<string, OrderDoc | null> = {};
  const reservations: Record<string, Reservation | null> = {};
  for (const id of ids) docs[id] = await orders.get(id);
  for (const c of couriers) reservations[c] = await orders.reservationOf(c);
  return { docs, reservations, open: (await orders.openOrders()).sort() };
}

describe('hexfleet replay (Kafka + Redis)', () => {
  const topicPrefix = `replay-${randomUUID().slice(0, 8)}`;
  const topics: Topics = topicsOf(topicPrefix);
  const live = uniquePrefix();
  const early = Array.from({ length: 60 }, (_, i) => `drv-${i}`);
  const late = Array.from({ length: 20 }, (_, i) => `late-${i}`);
  const couriers = SPOTS.map((_, i) => `courier-${i}`);
  const everyone = [...early, ...late, ...couriers];
  const orderIds = ['o-0', 'o-1', 'o-2', 'o-3', 'o-none'];
  let log: EventLog;
  let mid = 0;
  let atMid: Snapshot;
  let atEnd: Snapshot;
  let ordersAtMid: OrdersSnapshot;
  let ordersAtEnd: OrdersSnapshot;

  /** Runs the command as the CLI does; returns its exit status and parsed JSON summary. */
  async function replay<T = StoreReplaySummary>(args: string[], target: Pick<Backend, 'drivers' | 'orders'>, env: Record<string, string> = {}): Promise<{ code: number; summary: T; progress: string }> {
    let out = '';
    let progress = '';
    const code = await runReplayCommand([...args, '--json'], {
      backend: async () => ({ drivers: target.drivers, orders: target.orders, log, topics }),
      env,
      out: (t) => (out += t),
      progress: (t) => (progress += t),
    });
    return { code, summary: JSON.parse(out) as T, progress };
  }

  beforeAll(async () => {
    log = openLog();
    const gw = await startTestGateway('redis', {
      redisUrl: redis.url,
      prefix: live,
      env: { HEXFLEET_KAFKA_BROKERS: brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: topicPrefix, HEXFLEET_KAFKA_PARTITIONS: '3', HEXFLEET_RATE_PINGS_PER_SEC: '100000', HEXFLEET_RATE_BURST: '100000' },
    });
    try {
      await waitFor(async () => (await gw.get('/readyz')).status === 200, { what: 'gateway ready with its Kafka topics', timeoutMs: 30_000 });
      const { orders } = gw.gateway.backend;
      const first = await connectApps(gw, early);
      const crew = await connectApps(gw, couriers);
      await Promise.all(
        crew.map(async (c, i) => {
          c.client.sendPings([{ seq: ++c.seq, ts: Date.now(), ...SPOTS[i], status: 'available' }]);
          await c.client.waitForAck(c.seq);
        }),
      );
      // Phase 1: pings, three orders accepted, one that finds nobody.
      await stream(first, 4, 0);
      for (const i of [0, 1, 2]) await acceptedOrder(gw, crew[i]!, `o-${i}`, SPOTS[i]!);
      expect((await post(gw, '/v1/match', { orderId: 'o-none', pickup: NOWHERE, radiusM: 1000 })).status).toBe(404);
      atMid = await snapshot(gw.gateway.backend.drivers, everyone);
      ordersAtMid = await ordersSnapshot(orders, orderIds, couriers);
      mid = Date.now();
      // Everything after this moment is stamped later than `mid` by the log.
      await waitFor(() => Date.now() > mid + 1, { what: 'the clock to pass mid' });
      // Phase 2: more pings and new drivers; one order completed, one cancelled, one more accepted.
      await stream([...first, ...(await connectApps(gw, late))], 4, 1);
      expect((await post(gw, '/v1/orders/o-0/complete')).status).toBe(200);
      expect((await post(gw, '/v1/orders/o-1/cancel')).status).toBe(200);
      await acceptedOrder(gw, crew[3]!, 'o-3', SPOTS[3]!);
      atEnd = await snapshot(gw.gateway.backend.drivers, everyone);
      ordersAtEnd = await ordersSnapshot(orders, orderIds, couriers);
      // Every transition relayed from the outbox to the orders topic before the gateway goes.
      await waitFor(async () => (await orders.outboxDepth()) === 0, { what: 'the outbox relayed to Kafka' });
    } finally {
      await gw.stop();
    }
    expect(Object.values(atMid).filter(Boolean)).toHaveLength(early.length + couriers.length);
    expect(Object.values(atEnd).filter(Boolean)).toHaveLength(everyone.length);
    expect(Object.fromEntries(orderIds.map((id) => [id, ordersAtMid.docs[id]?.state ?? null]))).toEqual({ 'o-0': 'accepted', 'o-1': 'accepted', 'o-2': 'accepted', 'o-3': null, 'o-none': 'failed' });
    expect(Object.fromEntries(orderIds.map((id) => [id, ordersAtEnd.docs[id]?.state ?? null]))).toEqual({ 'o-0': 'completed', 'o-1': 'cancelled', 'o-2': 'accepted', 'o-3': 'accepted', 'o-none': 'failed' });
  });

  it('rebuilds the wiped store as it was, and a second replay changes nothing', async () => {
    await deleteKeysAt(redis.url, live);
    const target = await backendAt(live);
    expect(await snapshot(target.backend.drivers, everyone)).toEqual(Object.fromEntries(everyone.map((id) => [id, null])));

    const first = await replay([], target.backend);
    expect(first.code).toBe(0);
    expect(await snapshot(target.backend.drivers, everyone)).toEqual(atEnd);
    expect(await ordersSnapshot(target.backend.orders, orderIds, couriers)).toEqual(ordersAtEnd);
    const s = first.summary;
    expect(s.positions.records).toBeGreaterThan(everyone.length * 4);
    expect(s.positions.applied + s.positions.duplicates).toBe(s.positions.pings);
    expect(s.positions.duplicates).toBeGreaterThan(0); // The resends, logged twice.
    expect(s.undecodable.count).toBe(0);
    expect(s.orders).toMatchObject({ orders: orderIds.length, restored: orderIds.length, current: 0 });
    expect(s.orders.records).toBe(s.orders.orders + s.orders.superseded);
    expect(s.resumeFrom).toMatch(/^0:\d+,1:\d+,2:\d+(,orders\/\d+:\d+)+$/);

    const second = await replay([], target.backend);
    expect(second.code).toBe(0);
    expect(second.summary.positions).toMatchObject({ records: s.positions.records, pings: s.positions.pings, applied: 0, duplicates: s.positions.pings });
    expect(second.summary.orders).toMatchObject({ restored: 0, current: orderIds.length });
    expect(await snapshot(target.backend.drivers, everyone)).toEqual(atEnd);
    expect(await ordersSnapshot(target.backend.orders, orderIds, couriers)).toEqual(ordersAtEnd);
  });

  it('--to a moment between the two phases gives the state of that moment', async () => {
    const target = await backendAt(uniquePrefix());
    const { code, summary } = await replay(['--to', new Date(mid).toISOString()], target.backend);
    expect(code).toBe(0);
    expect(summary.window.to).toBe(new Date(mid).toISOString());
    expect(await snapshot(target.backend.drivers, everyone)).toEqual(atMid);
    expect(await ordersSnapshot(target.backend.orders, orderIds, couriers)).toEqual(ordersAtMid);
    // And continuing from where it stopped brings it to the end.
    const rest = await replay(['--from', summary.resumeFrom], target.backend);
    expect(rest.summary.positions.records).toBeGreaterThan(0);
    expect(await snapshot(target.backend.drivers, everyone)).toEqual(atEnd);
    expect(await ordersSnapshot(target.backend.orders, orderIds, couriers)).toEqual(ordersAtEnd);
  });

  it('--dry-run counts what it would apply and writes nothing', async () => {
    const target = await backendAt(uniquePrefix());
    const { summary } = await replay(['--dry-run'], target.backend);
    expect(summary.positions.records).toBeGreaterThan(0);
    expect(summary.positions.applied).toBe(0);
    expect(await snapshot(target.backend.drivers, everyone)).toEqual(Object.fromEntries(everyone.map((id) => [id, null])));
  });

  it('replays the traffic against a second gateway: every batch acked, every driver where it was', async () => {
    const gw = await startTestGateway('redis', { redisUrl: redis.url, env: { HEXFLEET_RATE_PINGS_PER_SEC: '100000', HEXFLEET_RATE_BURST: '100000' } });
    try {
      const { code, summary } = await replay<TrafficSummary>(['--speed', '10', '--url', `ws://127.0.0.1:${gw.port}`], gw.gateway.backend, { HEXFLEET_JWT_SECRET: TEST_JWT_SECRET });
      expect(summary.drivers).toBe(everyone.length);
      expect(summary.batches).toEqual({ sent: summary.records, acked: summary.records, errors: {}, unanswered: 0, notSent: 0 });
      expect(summary.pings.rejected).toEqual({});
      expect(summary.ackLatencyMs.count).toBe(summary.records);
      expect(code).toBe(0);
      // The same drivers in the same places; timestamps moved with the replay.
      const replayed = await snapshot(gw.gateway.backend.drivers, everyone);
      const noTs = (s: Snapshot): Record<string, unknown> => Object.fromEntries(Object.entries(s).map(([id, r]) => [id, r && { ...r, ts: undefined }]));
      expect(noTs(replayed)).toEqual(noTs(atEnd));
    } finally {
      await gw.stop();
    }
  });
});

describe('replay rate', () => {
  it('rebuilds 200,000 pings from the log into Redis and every driver checks out', async () => {
    const DRIVERS = 2_000;
    const RECORDS = 20;
    const PINGS = 5;
    const topics = topicsOf(`rate-${randomUUID().slice(0, 8)}`);
    const log = openLog();
    await log.ensureTopics([
      { name: topics.positions, partitions: 6 },
      { name: topics.orders, partitions: 6 },
    ]);
    const t0 = Date.now() - 3_600_000;
    const expected = new Map<string, { seq: number; lat: number; lng: number; ts: number }>();
    for (let r = 0; r < RECORDS; r++) {
      const batches: DriverBatch[] = [];
      for (let d = 0; d < DRIVERS; d++) {
        const pings = Array.from({ length: PINGS }, (_, k) => ({
          seq: r * PINGS + k + 1,
          ts: t0 + (r * PINGS + k) * 1000 + d,
          lat: Number((48 + ((d * 13 + r * 7 + k) % 1000) / 1000).toFixed(7)),
          lng: Number((2 + ((d * 17 + r * 3 + k) % 1000) / 1000).toFixed(7)),
        }));
        batches.push({ driverId: `r${d}`, vehicle: 'bike', pings });
        const lastPing = pings[PINGS - 1]!;
        expected.set(`r${d}`, { seq: lastPing.seq, lat: lastPing.lat, lng: lastPing.lng, ts: lastPing.ts });
      }
      await log.append(topics.positions, batches.map((b) => ({ ...positionRecord(b), timestamp: t0 + r * PINGS * 1000 })));
    }

    const target = await backendAt(uniquePrefix());
    const cpu = process.cpuUsage();
    const summary = await replayStores(log, topics, target.backend, { window: { positions: { kind: 'earliest' }, orders: { kind: 'earliest' }, to: Date.now() }, dryRun: false });
    const { user, system } = process.cpuUsage(cpu);
    // The figure depends on what else the two cores do: the replay's own CPU time and the load say how much it had.
    console.log(
      `[replay rate] ${summary.positions.pings} pings in ${summary.positions.records} records (${PINGS} per record, ${DRIVERS} drivers, 6 partitions): ` +
        `${(summary.elapsedMs / 1000).toFixed(2)} s, ${Math.round(summary.pingsPerSec)} pings/s, ${summary.positions.storeCalls} store calls; ` +
        `replay process CPU ${((user + system) / 1000).toFixed(0)} ms; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
    );
    expect(summary.positions).toMatchObject({ records: DRIVERS * RECORDS, pings: DRIVERS * RECORDS * PINGS, applied: DRIVERS * RECORDS * PINGS, duplicates: 0 });
    const got = await snapshot(target.backend.drivers, [...expected.keys()]);
    for (const [id, want] of expected) expect(got[id], id).toMatchObject({ ...want, vehicle: 'bike', status: 'unknown' });
  });
});
