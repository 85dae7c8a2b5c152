import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupManifest } from '../../src/backup/backup-manifest.js';
import type { RestoreSummary } from '../../src/backup/restore-backup.js';
import type { DriverRecord, DriverStore } from '../../src/geo/driver-store.js';
import type { OrderDoc } from '../../src/orders/order.js';
import type { OrderStore, Reservation } from '../../src/orders/order-store.js';
import type { StoreReplaySummary } from '../../src/replay/store-replay.js';
import { openTestBackend, TEST_TIMING, type TestBackend, uniquePrefix } from '../support/backends.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import type { RawDriverClient } from '../support/raw-driver-client.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { type CliResult, hexfleet, killCliRuns } from './backup-cli.js';
import { BackupSandbox } from './backup-fixtures.js';

/**
 * The restore drill: a gateway with Redis and Kafka takes pings from
 * drivers on real WebSockets and runs orders through the saga; a backup is
 * taken WHILE drivers keep streaming (the fuzzy snapshot); more pings and
 * order changes follow; the test notes a time T; more still after T (and a
 * second backup, which a restore to T must not use). Then Redis is lost
 * entirely — killed, replaced by a new empty redis-server — and
 * `hexfleet backup restore --to T` (a real process) must bring every
 * driver record and every order back to exactly its state at T: as the
 * store read at T, and as the pings the test had acked by T say.
 */

const DRIVERS = 40;
const STATUSES = ['available', 'busy', 'offline'] as const;
/** Couriers take the orders, each alone at a spot of its own, far from the streaming drivers. */
const SPOTS = [0, 1, 2, 3].map((i) => ({ lat: 53.5 + i * 0.05, lng: 10.0 }));
const NOWHERE = { lat: 10, lng: 10 };

let brokers = '';
let lost: RedisServer;
let fresh: RedisServer | undefined;
let box: BackupSandbox;
const opened: TestBackend[] = [];

beforeAll(async () => {
  brokers = inject('kafkaBrokers') ?? '';
  if (!brokers) throw new Error('no Kafka broker: the global setup provides one (inject("kafkaBrokers")); see kit/kafka-broker.ts and run bash scripts/kafka/install.sh');
  box = new BackupSandbox();
  lost = await RedisServer.start();
});

afterAll(async () => {
  await killCliRuns();
  await stopAllGateways();
  for (const b of opened) await b.cleanup().catch(() => {});
  await Promise.all([lost?.stop(), fresh?.stop()]);
  box?.remove();
});

/** A driver app: its socket, its seq, and every ping the gateway acked, in order. */
interface App {
  id: string;
  client: RawDriverClient;
  seq: number;
  lastTs: number;
  acked: { seq: number; ts: number; lat: number; lng: number; status?: string }[];
}

async function connect(gw: TestGateway, id: string): Promise<App> {
  const token = await gw.tokens.sign({ role: 'driver', sub: id, vehicle: 'bike' });
  return { id, client: await gw.connect({ queryToken: token, encoding: 'msgpack' }), seq: 0, lastTs: 0, acked: [] };
}

/** One batch of 1–3 pings with rising timestamps, sent until acked (an error reply means: resend it). */
async function sendBatch(app: App, round: number, i: number): Promise<void> {
  const n = 1 + ((i + round) % 3);
  const pings = Array.from({ length: n }, (_, k) => {
    app.lastTs = Math.max(app.lastTs + 1, Date.now() - (n - k));
    const p: { seq: number; ts: number; lat: number; lng: number; status?: string } = {
      seq: ++app.seq,
      ts: app.lastTs,
      lat: Number((52.45 + ((i * 37 + round * 11 + k) % 100) / 1000).toFixed(7)),
      lng: Number((13.35 + ((i * 53 + round * 7 + k) % 100) / 1000).toFixed(7)),
    };
    if ((i + round + k) % 4 === 0) p.status = STATUSES[(i + round) % 3];
    return p;
  });
  for (;;) {
    const reply = await app.client.sendBatch(pings);
    if (reply.type === 'ack') break;
  }
  app.acked.push(...pings);
}

/** Each app sends `rounds` batches, one after the other's ack. */
async function stream(apps: App[], rounds: number, from: number): Promise<void> {
  await Promise.all(apps.map(async (app, i) => {
    for (let r = from; r < from + rounds; r++) await sendBatch(app, r, i);
  }));
}

/** Streams until `until` settles; resolves with how many rounds each app sent. */
async function streamWhile(apps: App[], until: Promise<unknown>, from: number): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let round = from;
  while (!done) await stream(apps, 1, round++);
  return round - from;
}

async function post(gw: TestGateway, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(gw.httpUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${await gw.serviceToken()}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Matches an order at a courier's spot and has the courier accept it. */
async function acceptedOrder(gw: TestGateway, courier: App, orderId: string, spot: { lat: number; lng: number }): Promise<void> {
  const offered = courier.client.waitForReply((r) => r.type === 'offer' && (r as { orderId?: string }).orderId === orderId, `the offer of ${orderId}`);
  const matched = await post(gw, '/v1/match', { orderId, pickup: spot, radiusM: 1000 });
  expect(matched.status, JSON.stringify(matched.json)).toBe(200);
  await offered;
  const result = courier.client.waitForReply((r) => r.type === 'offer_result' && (r as { orderId?: string }).orderId === orderId, `the result of ${orderId}`);
  courier.client.send({ type: 'offer_reply', orderId, accept: true });
  expect(await result).toMatchObject({ state: 'accepted' });
}

type Drivers = Record<string, Omit<DriverRecord, never> | null>;

async function driversOf(store: DriverStore, ids: readonly string[]): Promise<Drivers> {
  const out: Drivers = {};
  for (const id of ids) {
    const v = await store.get(id, Date.now());
    if (!v) out[id] = null;
    else {
      const { ageMs: _a, stale: _s, ...rec } = v;
      out[id] = rec;
    }
  }
  return out;
}

interface Orders {
  docs: Record<string, OrderDoc | null>;
  reservations: Record<string, Reservation | null>;
  open: string[];
}

async function ordersOf(orders: OrderStore, ids: readonly string[], couriers: readonly string[]): Promise<Orders> {
  const docs: Orders['docs'] = {};
  const reservations: Orders['reservations'] = {};
  for (const id of ids) docs[id] = await orders.get(id);
  for (const c of couriers) reservations[c] = await orders.reservationOf(c);
  return { docs, reservations, open: (await orders.openOrders()).sort() };
}

/** What the test itself knows a driver looked like at T: its last acked ping, and its last status. */
function modelAt(app: App): { seq: number; ts: number; lat: number; lng: number; status: string } {
  const last = app.acked.at(-1)!;
  const status = [...app.acked].reverse().find((p) => p.status !== undefined)?.status ?? 'unknown';
  return { seq: last.seq, ts: last.ts, lat: last.lat, lng: last.lng, status };
}

describe('restore drill: lose Redis, restore --to T', () => {
  it('every driver record and every order equals its state at T', async () => {
    const prefix = uniquePrefix();
    const topicPrefix = `drill-${randomUUID().slice(0, 8)}`;
    const kafkaEnv = { HEXFLEET_KAFKA_BROKERS: brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: topicPrefix, HEXFLEET_KAFKA_PARTITIONS: '3' };
    const cliEnv = (redis: RedisServer): Record<string, string> => ({ REDIS_URL: redis.url, HEXFLEET_REDIS_PREFIX: prefix, ...kafkaEnv, ...box.env });
    const gw = await startTestGateway('redis', {
      redisUrl: lost.url,
      prefix,
      env: { ...kafkaEnv, HEXFLEET_RATE_PINGS_PER_SEC: '100000', HEXFLEET_RATE_BURST: '100000' },
    });
    await waitFor(async () => (await gw.get('/readyz')).status === 200, { what: 'the gateway ready with its Kafka topics', timeoutMs: 30_000 });
    const { orders } = gw.gateway.backend;
    const ids = Array.from({ length: DRIVERS }, (_, i) => `drv-${i}`);
    const lateIds = ['late-0', 'late-1', 'late-2'];
    const couriers = SPOTS.map((_, i) => `courier-${i}`);
    const orderIds = ['o-0', 'o-1', 'o-2', 'o-3', 'o-none'];
    const apps = await Promise.all(ids.map((id) => connect(gw, id)));
    const crew = await Promise.all(couriers.map((id) => connect(gw, id)));
    for (const [i, c] of crew.entries()) {
      c.client.sendPings([{ seq: ++c.seq, ts: Date.now(), ...SPOTS[i], status: 'available' }]);
      await c.client.waitForAck(c.seq);
    }

    // Before the backup: pings, two orders accepted, one that finds nobody.
    await stream(apps, 3, 0);
    await acceptedOrder(gw, crew[0]!, 'o-0', SPOTS[0]!);
    await acceptedOrder(gw, crew[1]!, 'o-1', SPOTS[1]!);
    expect((await post(gw, '/v1/match', { orderId: 'o-none', pickup: NOWHERE, radiusM: 1000 })).status).toBe(404);

    // The backup, taken while every driver keeps streaming and an order is accepted.
    const creating = hexfleet(['backup', 'create', '--json'], cliEnv(lost));
    const [created, rounds] = await Promise.all([creating, streamWhile(apps, creating, 3), acceptedOrder(gw, crew[2]!, 'o-2', SPOTS[2]!)]);
    expect(created.code, created.stderr).toBe(0);
    const backup = (JSON.parse(created.stdout) as { manifest: BackupManifest }).manifest;
    expect(backup.log?.positions.topic).toBe(`${topicPrefix}.positions`);
    expect(rounds).toBeGreaterThan(1);

    // After the backup, before T: more pings, one order completed, one cancelled.
    await stream(apps, 3, 3 + rounds);
    expect((await post(gw, '/v1/orders/o-0/complete')).status).toBe(200);
    expect((await post(gw, '/v1/orders/o-1/cancel')).status).toBe(200);
    await waitFor(async () => (await orders.outboxDepth()) === 0, { what: 'the outbox relayed to Kafka' });

    const T = Date.now();
    await waitFor(() => Date.now() > T + 1, { what: 'the clock to pass T' });
    const everyone = [...ids, ...lateIds, ...couriers];
    const driversAtT = await driversOf(gw.gateway.backend.drivers, everyone);
    const ordersAtT = await ordersOf(orders, orderIds, couriers);
    const modelsAtT = Object.fromEntries(apps.map((a) => [a.id, modelAt(a)]));

    // After T: more pings, new drivers, o-2 completed, o-3 accepted, and a second backup.
    await stream([...apps, ...(await Promise.all(lateIds.map((id) => connect(gw, id))))], 3, 100);
    expect((await post(gw, '/v1/orders/o-2/complete')).status).toBe(200);
    await acceptedOrder(gw, crew[3]!, 'o-3', SPOTS[3]!);
    const later = await hexfleet(['backup', 'create', '--json'], cliEnv(lost));
    expect(later.code, later.stderr).toBe(0);
    await waitFor(async () => (await orders.outboxDepth()) === 0, { what: 'the outbox relayed to Kafka' });
    expect(await driversOf(gw.gateway.backend.drivers, everyone)).not.toEqual(driversAtT);

    // Redis is lost entirely: the gateway goes, the server is killed, a new empty one takes its place.
    await gw.stop();
    await lost.kill();
    fresh = await RedisServer.start();
    expect(await fresh.client.dbsize()).toBe(0);

    const restored: CliResult = await hexfleet(['backup', 'restore', '--to', new Date(T).toISOString(), '--json'], cliEnv(fresh));
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/^(restore: .*\n)*$/);
    const summary = JSON.parse(restored.stdout) as RestoreSummary & { replay: StoreReplaySummary };
    expect(summary.id).toBe(backup.id);
    expect(summary.keys.restored).toBe(backup.totals.keys);
    expect(summary.replay.window.to).toBe(new Date(T).toISOString());
    expect(summary.replay.positions.applied).toBeGreaterThan(0); // the snapshot alone is not the state at T
    expect(summary.replay.undecodable.count).toBe(0);

    const target = await openTestBackend('redis', { redisUrl: fresh.url, timing: TEST_TIMING, prefix });
    opened.push(target);
    const drivers = await driversOf(target.backend.drivers, everyone);
    expect(drivers).toEqual(driversAtT);
    for (const id of lateIds) expect(drivers[id]).toBeNull();
    for (const app of apps) expect(drivers[app.id], app.id).toMatchObject({ ...modelsAtT[app.id], vehicle: 'bike' });
    expect(await ordersOf(target.backend.orders, orderIds, couriers)).toEqual(ordersAtT);
    expect(Object.fromEntries(orderIds.map((id) => [id, ordersAtT.docs[id]?.state ?? null]))).toEqual({
      'o-0': 'completed', 'o-1': 'cancelled', 'o-2': 'accepted', 'o-3': null, 'o-none': 'failed',
    });

    // Without --to, the log is replayed to the end of the backup's scan: its createdAt, never past it.
    const other = await RedisServer.start();
    try {
      const plain = await hexfleet(['backup', 'restore', '--id', backup.id, '--json'], cliEnv(other));
      expect(plain.code, plain.stderr).toBe(0);
      const s2 = JSON.parse(plain.stdout) as RestoreSummary & { replay: StoreReplaySummary };
      expect(s2.replay.window.to).toBe(backup.createdAt);
      const b2 = await openTestBackend('redis', { redisUrl: other.url, timing: TEST_TIMING, prefix });
      try {
        const atCreated = await driversOf(b2.backend.drivers, ids);
        for (const app of apps) {
          const seq = (atCreated[app.id] as { seq: number }).seq;
          expect(seq, app.id).toBeLessThanOrEqual(modelsAtT[app.id]!.seq);
          expect(app.acked.some((p) => p.seq === seq), `${app.id} at seq ${seq}: a ping it sent`).toBe(true);
        }
      } finally {
        await b2.cleanup();
      }
    } finally {
      await other.stop();
    }
  }, 180_000);
});
