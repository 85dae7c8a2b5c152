import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedFixedPort } from '../../kit/free-port.js';
import { KafkaBroker } from '../../kit/kafka-broker.js';
import { MirrorMaker } from '../../kit/mirror-maker.js';
import { pino } from 'pino';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import { HEADERS, topicsOf } from '../../src/eventlog/topics.js';
import { ownershipLogRecord } from '../../src/ownership/ownership-records.js';
import { mirroredTopicsOf } from '../../src/replication/mirrored-topics.js';
import type { OrderDoc, Point } from '../../src/orders/order.js';
import type { WirePing } from '../../src/protocol/wire-frames.js';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Region ownership with fenced epochs, all real: two regions `a` and `b`,
 * each with its own Kafka broker, Redis and gateway (HEXFLEET_REGION,
 * HEXFLEET_REPLICATE_FROM the other, HEXFLEET_REGION_ENDPOINTS both, so
 * each probes the other), and one MirrorMaker 2 both ways.
 *
 * A second courier of `a` has accepted an order of `a` when `a` is lost; it
 * moves to `b` too, and once `a` learns of it that order is cancelled
 * (ownership_moved).
 *
 * One courier, homed in `a` (claimed at epoch 1 when it connected there):
 * `b` serves it read-only and never offers it an order while `a` is up.
 * Region `a` is lost (its gateway and the mirror stopped, with an order of
 * `a` still offered to the courier); the courier reconnects to `b`, which
 * sees `a` unreachable and takes it at epoch 2, and offers it an order it
 * accepts. Region `a` returns: once epoch 2 reaches it, its offered order
 * is compensated (back to searching, reason ownership_moved, then failed:
 * nobody else is near), its late reservations of the courier lose, an
 * accept the courier sends to `a` is refused, and nothing flips back. In
 * the end both regions hold b@2 and the courier is assigned in one region
 * only.
 */

const PREFIX = `own-${randomUUID().slice(0, 8)}`;
const PARTITIONS = 2;
const COURIER = `courier-${PREFIX}`;
const AT: Point = { lat: 48.8566, lng: 2.3522 };
/** A second courier of a, 3 km away, who has accepted an order of a when a is lost. */
const ASSIGNED = `assigned-${PREFIX}`;
const AT2: Point = offset(AT, 3000);

type Name = 'a' | 'b';
interface Region {
  name: Name;
  broker: KafkaBroker;
  redis: RedisServer;
  port: number;
  gateway: TestGateway | undefined;
}

const regions = {} as Record<Name, Region>;
let endpoints = '';
let mirror: MirrorMaker | undefined;
/** The courier's pings are numbered across its connections, as its app numbers them. */
let seq = 0;

function gw(name: Name): TestGateway {
  const g = regions[name].gateway;
  if (!g) throw new Error(`region ${name} is down`);
  return g;
}

async function startRegion(name: Name): Promise<TestGateway> {
  const r = regions[name];
  r.gateway = await startTestGateway('redis', {
    redisUrl: r.redis.url,
    // One key prefix per region across restarts: region a comes back to its own data.
    prefix: `${PREFIX}-${name}`,
    env: {
      PORT: String(r.port),
      HEXFLEET_KAFKA_BROKERS: r.broker.brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: PREFIX, HEXFLEET_KAFKA_PARTITIONS: String(PARTITIONS),
      HEXFLEET_KAFKA_TIMEOUT_MS: '10000', HEXFLEET_REGION: name, HEXFLEET_REPLICATE_FROM: name === 'a' ? 'b' : 'a',
      HEXFLEET_REGION_ENDPOINTS: endpoints, HEXFLEET_REGION_PROBE_INTERVAL_MS: '200', HEXFLEET_REGION_PROBE_TIMEOUT_MS: '1000',
      // No offer expires while the test looks at it: only ownership moves an order on.
      HEXFLEET_OFFER_TIMEOUT_MS: '600000',
    },
  });
  return r.gateway;
}

function startMirror(): Promise<MirrorMaker> {
  return MirrorMaker.start({
    clusters: [{ alias: 'a', brokers: regions.a.broker.brokers }, { alias: 'b', brokers: regions.b.broker.brokers }],
    topics: `${PREFIX.replace(/[.-]/g, (c) => `\\${c}`)}\\..*`,
  });
}

/** A courier's app connected to `name`, pinging from `at` with its next seq. */
async function courierIn(name: Name, id = COURIER, at = AT): Promise<OfferDriver> {
  const d = new OfferDriver(id, await gw(name).connectDriver(id));
  await pingFrom(d, at);
  return d;
}

async function pingFrom(d: OfferDriver, at: Point): Promise<void> {
  const p: WirePing = { seq: ++seq, lat: at.lat, lng: at.lng, ts: Date.now(), status: 'available' };
  const r = await d.client.sendBatch([p]);
  if (r.type !== 'ack') throw new Error(`ping ${p.seq} refused: ${JSON.stringify(r)}`);
}

const ownerIn = (name: Name, id = COURIER) => gw(name).gateway.backend.ownership.get(id);
const orderIn = (name: Name, orderId: string): Promise<OrderDoc | null> => gw(name).gateway.backend.orders.get(orderId);
async function api(name: Name): Promise<MatchApi> {
  return new MatchApi(gw(name).port, await gw(name).serviceToken());
}
const moves = (name: Name) => gw(name).metric('hexfleet_ownership_moves_total', { from: 'a', to: 'b' });

beforeAll(async () => {
  const [ka, kb, ra, rb] = await Promise.all([KafkaBroker.start(), KafkaBroker.start(), RedisServer.start(), RedisServer.start()]);
  const [pa, pb] = [await unusedFixedPort(), await unusedFixedPort()];
  regions.a = { name: 'a', broker: ka, redis: ra, port: pa, gateway: undefined };
  regions.b = { name: 'b', broker: kb, redis: rb, port: pb, gateway: undefined };
  endpoints = `a=http://127.0.0.1:${pa},b=http://127.0.0.1:${pb}`;
  // The gateways first: they create their topics and the mirrored ones they consume.
  await Promise.all([startRegion('a'), startRegion('b')]);
  mirror = await startMirror();
}, 180_000);

afterAll(async () => {
  await stopAllGateways();
  await mirror?.stop();
  await Promise.all(Object.values(regions).flatMap((r) => [r.broker?.stop(), r.redis?.stop()]));
}, 60_000);

describe('region ownership across two regions (MirrorMaker 2 both ways)', () => {
  let inA: OfferDriver;

  it('a courier homed in a is read-only in b: b never offers it, a does; b refuses to change a\'s order', async () => {
    inA = await courierIn('a');
    // a claimed it at epoch 1 on connect; the claim and the position reach b through the mirror.
    await waitFor(async () => JSON.stringify(await ownerIn('a')) === JSON.stringify({ epoch: 1, region: 'a' }), { what: 'a claiming the courier' });
    await waitFor(async () => (await ownerIn('b'))?.region === 'a' && (await gw('b').gateway.backend.drivers.get(COURIER, Date.now())) !== null,
      { timeoutMs: 120_000, intervalMs: 200, what: 'the courier\'s claim and position in b' });
    expect(await ownerIn('b')).toEqual({ region: 'a', epoch: 1 });

    const refusedBefore = await gw('b').metric('hexfleet_offers_total', { outcome: 'refused' });
    const inB = await (await api('b')).match({ orderId: `ob1-${PREFIX}`, pickup: AT, radiusM: 2000 });
    expect(inB.status, 'b offers no driver it does not own').toBe(404);
    expect(inB.json).toMatchObject({ code: 'no_driver', reason: 'no_driver' });
    expect(await orderIn('b', `ob1-${PREFIX}`)).toMatchObject({ state: 'failed', homeRegion: 'b' });
    // Left out by candidate search (it reads the drivers' homes), not refused by a reservation's fence.
    expect(await gw('b').metric('hexfleet_offers_total', { outcome: 'refused' })).toBe(refusedBefore);
    expect(await gw('b').gateway.backend.orders.reservationOf(COURIER)).toBeNull();

    const inAOrder = await (await api('a')).match({ orderId: `oa1-${PREFIX}`, pickup: AT, radiusM: 2000 });
    expect(inAOrder.json).toMatchObject({ state: 'offered', driverId: COURIER });
    expect(await orderIn('a', `oa1-${PREFIX}`)).toMatchObject({ homeRegion: 'a' });
    await inA.waitForOffer(`oa1-${PREFIX}`);

    // a's order reaches b read-only: no reservation there, and b refuses to change it, naming a.
    await waitFor(async () => (await orderIn('b', `oa1-${PREFIX}`))?.state === 'offered', { timeoutMs: 60_000, intervalMs: 200, what: 'a\'s order in b' });
    expect(await gw('b').gateway.backend.orders.reservationOf(COURIER)).toBeNull();
    const cancel = await (await api('b')).cancel(`oa1-${PREFIX}`);
    expect(cancel.status).toBe(409);
    expect(cancel.json).toMatchObject({ code: 'not_home_region' });
    expect((cancel.json as { message: string }).message).toMatch(/homed in region "a"/);
    expect(await orderIn('a', `oa1-${PREFIX}`)).toMatchObject({ state: 'offered', version: 2 });

    // A second courier of a accepts an order of a.
    const assigned = await courierIn('a', ASSIGNED, AT2);
    expect((await (await api('a')).match({ orderId: `oa3-${PREFIX}`, pickup: AT2, radiusM: 500 })).json).toMatchObject({ state: 'offered', driverId: ASSIGNED });
    expect(await assigned.answerOffer(`oa3-${PREFIX}`, true)).toMatchObject({ type: 'offer_result', state: 'accepted' });
    await waitFor(async () => (await ownerIn('b', ASSIGNED))?.region === 'a', { timeoutMs: 60_000, intervalMs: 200, what: 'the second courier\'s claim in b' });
  }, 180_000);

  it('region a lost: a courier already on b moves there when b finds a unreachable; the other reconnects to b, which takes it at epoch 2 (one move each) and offers it an order it accepts', async () => {
    // The second courier's app is already on b while a still answers: it stays a's (b serves it read-only) ...
    await courierIn('b', ASSIGNED, AT2);
    expect(await ownerIn('b', ASSIGNED)).toEqual({ region: 'a', epoch: 1 });
    await gw('a').stop();
    regions.a.gateway = undefined;
    await mirror!.stop();
    mirror = undefined;
    await waitFor(async () => (await gw('b').metric('hexfleet_region_reachable', { region: 'a' })) === 0, { what: 'b seeing a unreachable' });
    // ... and moves to b when b finds a unreachable, without reconnecting (RegionProber.onRegionLost → OwnershipClaimer.onRegionLost).
    await waitFor(async () => (await ownerIn('b', ASSIGNED))?.epoch === 2 && (await moves('b')) === 1, { what: 'b taking the second courier, still connected' });
    expect(await ownerIn('b', ASSIGNED)).toEqual({ region: 'b', epoch: 2 });

    const inB = await courierIn('b');
    await waitFor(async () => (await ownerIn('b'))?.epoch === 2, { what: 'b taking the courier' });
    expect(await ownerIn('b')).toEqual({ region: 'b', epoch: 2 });
    await waitFor(async () => (await moves('b')) === 2, { what: 'b counting the move' });
    // Reconnecting again moves nothing more.
    await inB.terminate();
    const again = await courierIn('b');
    expect(await ownerIn('b')).toEqual({ region: 'b', epoch: 2 });
    expect(await moves('b')).toBe(2);

    const r = await (await api('b')).match({ orderId: `ob2-${PREFIX}`, pickup: AT, radiusM: 2000 });
    expect(r.json).toMatchObject({ state: 'offered', driverId: COURIER });
    expect(await orderIn('b', `ob2-${PREFIX}`)).toMatchObject({ homeRegion: 'b' });
    expect(await again.answerOffer(`ob2-${PREFIX}`, true)).toMatchObject({ type: 'offer_result', state: 'accepted' });
  }, 120_000);

  it('a returns: epoch 2 reaches it, its offer is compensated, its late reserve and accept lose, nothing flips back, one assignment', async () => {
    await startRegion('a');
    mirror = await startMirror();
    await waitFor(async () => (await ownerIn('a'))?.epoch === 2, { timeoutMs: 120_000, intervalMs: 200, what: 'epoch 2 reaching a' });
    expect(await ownerIn('a')).toEqual({ region: 'b', epoch: 2 });

    // a's offer to the courier is compensated: back to searching (ownership_moved), then failed, nobody else being near.
    await waitFor(async () => (await orderIn('a', `oa1-${PREFIX}`))?.state === 'failed', { timeoutMs: 30_000, what: 'a\'s offered order compensated' });
    const oa1 = (await orderIn('a', `oa1-${PREFIX}`))!;
    expect(oa1.history.map((h) => [h.event, h.reason])).toEqual([['offered', undefined], ['expired', 'ownership_moved'], ['failed', 'no_driver']]);
    expect(await gw('a').gateway.backend.orders.reservationOf(COURIER)).toBeNull();
    // The order the second courier had accepted in a is cancelled: the courier now works for b.
    await waitFor(async () => (await orderIn('a', `oa3-${PREFIX}`))?.state === 'cancelled', { timeoutMs: 30_000, what: 'a\'s accepted order compensated' });
    expect((await orderIn('a', `oa3-${PREFIX}`))!.history.at(-1)).toMatchObject({ event: 'cancelled', driverId: ASSIGNED, reason: 'ownership_moved' });
    expect(await gw('a').gateway.backend.orders.reservationOf(ASSIGNED)).toBeNull();
    await waitFor(async () => (await moves('a')) === 2, { what: 'a counting both moves' });

    // A late reserve in a loses to the epoch: a's new order finds no driver it may offer.
    const late = await (await api('a')).match({ orderId: `oa2-${PREFIX}`, pickup: AT, radiusM: 2000 });
    expect(late.status).toBe(404);
    expect(late.json).toMatchObject({ code: 'no_driver', reason: 'no_driver' });

    // The courier's app also reaching a (a is up again): its accept there is refused, naming b, and its home stays b.
    const backInA = await courierIn('a');
    const refused = await backInA.reply(`oa1-${PREFIX}`, true);
    expect(refused).toMatchObject({ type: 'error', code: 'not_home_region', orderId: `oa1-${PREFIX}` });
    expect(refused.message).toMatch(/homed in region "b" \(epoch 2\)/);
    expect(await ownerIn('a')).toEqual({ region: 'b', epoch: 2 });
    expect(await ownerIn('b')).toEqual({ region: 'b', epoch: 2 });

    // Converged: each region's orders at the same version in both; the courier is the driver of one open order, in b.
    const ids = [`oa1-${PREFIX}`, `oa2-${PREFIX}`, `oa3-${PREFIX}`, `ob1-${PREFIX}`, `ob2-${PREFIX}`];
    await waitFor(async () => {
      for (const id of ids) {
        const [x, y] = await Promise.all([orderIn('a', id), orderIn('b', id)]);
        if (!x || !y || x.version !== y.version) return false;
      }
      return true;
    }, { timeoutMs: 120_000, intervalMs: 250, what: 'every order at its version in both regions' });
    const held: string[] = [];
    for (const name of ['a', 'b'] as const) {
      for (const id of ids) {
        const doc = (await orderIn(name, id))!;
        // Each region's own orders: what it may still change.
        if (doc.homeRegion === name && (doc.state === 'offered' || doc.state === 'accepted') && doc.driverId !== undefined) held.push(`${name}:${id}:${doc.driverId}`);
      }
    }
    expect(held, 'open orders holding a courier, by home region').toEqual([`b:ob2-${PREFIX}:${COURIER}`]);
    expect(await ownerIn('a', ASSIGNED)).toEqual({ region: 'b', epoch: 2 });
    expect(await gw('b').gateway.backend.orders.reservationOf(COURIER)).toMatchObject({ orderId: `ob2-${PREFIX}` });
    expect(await gw('a').gateway.backend.orders.reservationOf(COURIER)).toBeNull();
  }, 300_000);

  it('a record of another region at the epoch held here for another home is a conflict: not applied, counted and logged', async () => {
    const other = `courier2-${PREFIX}`;
    const d = new OfferDriver(other, await gw('b').connectDriver(other));
    await d.ping(AT);
    await waitFor(async () => (await gw('b').gateway.backend.ownership.get(other))?.region === 'b', { what: 'b claiming the second courier' });
    // As if a had claimed it at epoch 1 too before either claim crossed: its record, mirrored into b's Kafka.
    const log = new KafkaEventLog({ brokers: [regions.b.broker.brokers], clientId: `own-test-${PREFIX}`, timeoutMs: 15_000, replicationFactor: 1 }, pino({ level: 'silent' }));
    try {
      const r = ownershipLogRecord({ driverId: other, region: 'a', epoch: 1, at: Date.now() });
      await log.append(mirroredTopicsOf('a', topicsOf(PREFIX)).ownership, [{ ...r, headers: { ...r.headers, [HEADERS.originRegion]: 'a' } }]);
      await waitFor(async () => (await gw('b').metric('hexfleet_ownership_conflicts_total', { held: 'b', incoming: 'a' })) === 1, { timeoutMs: 60_000, what: 'b counting the conflict' });
    } finally {
      await log.close();
    }
    expect(await gw('b').gateway.backend.ownership.get(other)).toEqual({ region: 'b', epoch: 1 });
  }, 120_000);
});
