import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '../../src/backend/backend.js';
import type { Point } from '../../src/orders/order.js';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { BackendHosts, TEST_BACKENDS } from '../support/backends.js';
import { startTestGateway, stopAllGateways, TEST_JWT_SECRET, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { waitFor } from '../support/wait-for.js';
import { type RawDriverClient, UpgradeRefused } from '../support/raw-driver-client.js';
import { frameAfter, framesOf, openTrack, statusOf, subscribe, type TrackClient, type TrackFrame } from './track-client.js';

/**
 * Live tracking end to end, on every backend of TEST_BACKENDS: real driver
 * sockets, the real match API and real /v1/track clients. Every case starts
 * its own gateways (on Redis: under its own key prefix, on the file's one
 * redis-server) and works at its own site (~55 km from any other), so one
 * case's drivers never show up in another's area or matches.
 */

let siteCount = 0;
function nextSite(): Point {
  siteCount++;
  return { lat: -30 + siteCount * 0.5, lng: 28.1 };
}

interface World {
  tg: TestGateway;
  api: MatchApi;
}

/** What the file starts for the backends it runs on (one redis-server, shared by every case). */
const hosts = new BackendHosts();
afterAll(() => hosts.stop());

/**
 * Offers never expire while a case looks at them. Positions are not
 * throttled unless a case asks (its own case tests the throttle): at the
 * default 2 Hz every case that waits for a position after the snapshot would
 * wait out half a second.
 */
const WORLD_ENV = { HEXFLEET_OFFER_TIMEOUT_MS: '600000', HEXFLEET_TRACK_MAX_HZ: '1000' };

/** The case's gateway of each configuration: started on first use, stopped after the case. */
const worlds = new Map<string, Promise<World>>();
function world(kind: BackendKind, env: Record<string, string> = {}): Promise<World> {
  const key = JSON.stringify(env);
  let w = worlds.get(key);
  if (!w) {
    w = (async () => {
      const tg = await startTestGateway(kind, { target: await hosts.target(kind), env: { ...WORLD_ENV, ...env } });
      return { tg, api: new MatchApi(tg.port, await tg.serviceToken()) };
    })();
    worlds.set(key, w);
  }
  return w;
}

async function stopWorlds(): Promise<void> {
  worlds.clear();
  await stopAllGateways();
}

const newOrderId = (): string => `o-${randomUUID().slice(0, 8)}`;

function customer(w: World, orders: string[]): Promise<string> {
  return w.tg.tokens.sign({ role: 'customer', sub: `c-${randomUUID().slice(0, 6)}`, orders });
}

async function track(w: World, token: string, encoding: 'json' | 'msgpack' = 'json'): Promise<TrackClient> {
  const c = await openTrack(w.tg.port, token, encoding);
  w.tg.clients.add(c);
  return c;
}

async function courier(w: World, at: Point): Promise<OfferDriver> {
  const c = await OfferDriver.open(w.tg.driverUrl, w.tg.tokens, uniqueDriverId('trk'));
  w.tg.clients.add(c.client);
  await c.ping(at);
  return c;
}

/** A driver online at a fresh site and an order matched to it and accepted, through the real APIs. */
async function assignedOrder(w: World): Promise<{ at: Point; driver: OfferDriver; orderId: string }> {
  const at = nextSite();
  const driver = await courier(w, at);
  const orderId = newOrderId();
  const r = await w.api.match({ orderId, pickup: offset(at, 100) });
  expect(r.status, r.text).toBe(200);
  expect(r.json.driverId).toBe(driver.driverId);
  expect((await driver.answerOffer(orderId, true)).state).toBe('accepted');
  return { at, driver, orderId };
}

const positionAt = (c: TrackClient, from: number, orderId: string | undefined, lat: number): Promise<TrackFrame> =>
  frameAfter(c, from, (f) => f.type === 'position' && f.orderId === orderId && f.lat === lat, `position at lat ${lat}`);

function pauseReading(c: RawDriverClient): Socket {
  const socket = (c.ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  return socket;
}

describe.each(TEST_BACKENDS)('on the %s backend', (kind) => {
  afterEach(stopWorlds);

  describe('authentication and authorization', () => {
    it.each([
      ['no token', async () => undefined, 401],
      ['a driver token', (w: World) => w.tg.token('driver', 'd1'), 403],
      ['a service token', (w: World) => w.tg.token('service', 's1'), 403],
      ['a customer token without an orders claim', (w: World) => w.tg.token('customer', 'c1'), 401],
      ['a customer token whose orders claim is not a list of ids', (w: World) => new SignJWT({ role: 'customer', orders: 'o-1' })
        .setProtectedHeader({ alg: 'HS256' }).setSubject('c1').sign(new TextEncoder().encode(TEST_JWT_SECRET)), 401],
      ['a tracker token that never expires', async () => new SignJWT({ role: 'tracker' }).setProtectedHeader({ alg: 'HS256' }).setSubject('o-1')
        .setIssuedAt().sign(new TextEncoder().encode(TEST_JWT_SECRET)), 401],
      ['an expired tracker token', async () => new SignJWT({ role: 'tracker' }).setProtectedHeader({ alg: 'HS256' }).setSubject('o-1')
        .setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(new TextEncoder().encode(TEST_JWT_SECRET)), 401],
      ['a badly signed admin token', async () => new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('ops')
        .sign(new TextEncoder().encode('another-secret-0123456789abcdefghijklmn')), 401],
    ] as const)('refuses the upgrade with %s', async (_what, token, status) => {
      const w = await world(kind);
      const t = await token(w);
      const err = await openTrack(w.tg.port, t ?? '').then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UpgradeRefused);
      expect((err as UpgradeRefused).status).toBe(status);
    });

    it('lets each role watch what its token covers and nothing else, and sends no data about a refused order, ever', async () => {
      const w = await world(kind);
      const { at, driver, orderId: secret } = await assignedOrder(w);
      const mine = newOrderId();
      const tracker = await w.tg.tokens.sign({ role: 'tracker', sub: mine, ttlS: 600 });
      const cases: [string, string, string, 'status' | 'not_allowed'][] = [
        ['customer', await customer(w, [mine, 'o-other']), mine, 'status'],
        ['customer', await customer(w, [mine]), secret, 'not_allowed'],
        ['customer (empty claim)', await customer(w, []), mine, 'not_allowed'],
        ['tracker', tracker, mine, 'status'],
        ['tracker', tracker, secret, 'not_allowed'],
        ['admin', await w.tg.token('admin', 'ops'), secret, 'status'],
      ];
      const clients: TrackClient[] = [];
      for (const [role, token, orderId, expected] of cases) {
        const c = await track(w, token);
        clients.push(c);
        const first = await subscribe(c, orderId);
        expect(first.type === 'status' ? 'status' : first.code, `${role} subscribing to ${orderId}`).toBe(expected);
        if (expected === 'not_allowed') expect(first).toMatchObject({ type: 'error', orderId });
      }
      const refusedArea = await track(w, await customer(w, [mine]));
      refusedArea.send({ type: 'subscribe_area', bbox: [0, 0, 1, 1] });
      // Areas are not a customer's at all (a role denial of RBAC_TABLE), not an order outside its claim.
      expect(await refusedArea.waitForError('forbidden')).toMatchObject({ bbox: [0, 0, 1, 1] });

      // The secret order moves and changes state; the admin sees it, the refused customers see nothing of it.
      const admin = clients[5]!;
      const moved = await driver.ping(offset(at, 50));
      await positionAt(admin, 0, secret, moved.lat);
      expect((await w.api.complete(secret)).status).toBe(200);
      await frameAfter(admin, 0, (f) => f.type === 'assignment' && f.state === 'completed', 'completed');
      for (const c of [clients[1]!, clients[4]!]) {
        expect(c.replies.filter((f) => (f as TrackFrame).orderId === secret).map((f) => f.type)).toEqual(['error']);
      }
    });

    it('issues tracker tokens to services only, valid for one order until expiresAt', async () => {
      const w = await world(kind);
      const orderId = newOrderId();
      const path = `/v1/orders/${orderId}/tracking-token`;
      expect((await httpRequest(w.tg.port, 'POST', path)).status).toBe(401);
      expect((await httpRequest(w.tg.port, 'POST', path, { token: await w.tg.token('driver', 'd1') })).status).toBe(403);
      expect((await httpRequest(w.tg.port, 'POST', path, { token: await customer(w, [orderId]) })).status).toBe(403);
      expect((await httpRequest(w.tg.port, 'POST', '/v1/orders/%ZZ/tracking-token', { token: await w.tg.serviceToken() })).json.code).toBe('invalid_parameter');
      const before = Date.now();
      const r = await httpRequest(w.tg.port, 'POST', path, { token: await w.tg.serviceToken() });
      expect(r.status, r.text).toBe(200);
      expect(r.json.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 7200_000);
      expect(r.json.expiresAt).toBeLessThanOrEqual(Date.now() + 7200_000);
      const c = await track(w, r.json.token);
      expect((await subscribe(c, orderId)).state).toBe('waiting');
      expect((await subscribe(c, newOrderId())).code).toBe('not_allowed');
    });

    it('closes a connection whose token expires with 4401', async () => {
      const w = await world(kind, { HEXFLEET_DEGRADED_MS: '500' });
      const orderId = newOrderId();
      const c = await track(w, await w.tg.tokens.sign({ role: 'tracker', sub: orderId, ttlS: 1 }));
      await subscribe(c, orderId);
      expect((await c.closed).code).toBe(4401);
      expect(await w.tg.metric('hexfleet_tracking_disconnects_total', { reason: 'token_expired' })).toBeGreaterThanOrEqual(1);
    });
  });

  describe('subscribing', () => {
    it('answers waiting (no position) for an unknown order and for one offered but not accepted', async () => {
      const w = await world(kind);
      const unknown = newOrderId();
      const at = nextSite();
      const driver = await courier(w, at);
      const offered = newOrderId();
      expect((await w.api.match({ orderId: offered, pickup: at })).json.state).toBe('offered');
      const c = await track(w, await customer(w, [unknown, offered]));
      expect(await subscribe(c, unknown)).toMatchObject({ type: 'status', orderId: unknown, state: 'waiting', lastTs: null, ageMs: null });
      expect(await subscribe(c, offered)).toMatchObject({ type: 'status', orderId: offered, state: 'waiting', lastTs: null, ageMs: null });
      // A ping of the offered driver is not shown: it is not this order's courier (yet).
      const other = await track(w, await w.tg.token('admin', 'ops'));
      other.send({ type: 'subscribe_area', bbox: [at.lng - 0.1, at.lat - 0.1, at.lng + 0.1, at.lat + 0.1] });
      await other.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');
      const p = await driver.ping(offset(at, 10));
      await positionAt(other, 0, undefined, p.lat);
      expect(framesOf(c, 'position')).toEqual([]);
    });

    it('sends the current status, then the last-known position with its age, at once', async () => {
      const w = await world(kind);
      const { at, driver, orderId } = await assignedOrder(w);
      const sent = await driver.ping(offset(at, 30), { hdg: 90, spd: 4.5 });
      const c = await track(w, await customer(w, [orderId]));
      const status = await subscribe(c, orderId);
      expect(status).toMatchObject({ type: 'status', orderId, state: 'live', lastTs: sent.ts });
      expect(status.ageMs).toBeGreaterThanOrEqual(0);
      const pos = await frameAfter(c, 0, (f) => f.type === 'position', 'the last-known position');
      expect(c.replies.indexOf(pos)).toBeGreaterThan(c.replies.indexOf(status));
      expect(pos).toEqual({
        type: 'position', orderId, driverId: driver.driverId, lat: sent.lat, lng: sent.lng, ts: sent.ts, ageMs: expect.any(Number), hdg: 90, spd: 4.5, binary: false,
      });
      expect(pos.ageMs).toBeGreaterThanOrEqual(0);
      expect(pos.ageMs).toBeLessThanOrEqual(Date.now() - sent.ts);
    });

    it('streams live positions, and stops after unsubscribe', async () => {
      const w = await world(kind);
      const { at, driver, orderId } = await assignedOrder(w);
      const stays = await track(w, await customer(w, [orderId]));
      const leaves = await track(w, await customer(w, [orderId]));
      await subscribe(stays, orderId);
      await subscribe(leaves, orderId);
      for (let i = 1; i <= 3; i++) {
        const p = await driver.ping(offset(at, i * 100));
        await positionAt(stays, 0, orderId, p.lat);
        await positionAt(leaves, 0, orderId, p.lat);
      }
      leaves.send({ type: 'unsubscribe', orderId });
      await leaves.waitForReply((f) => f.type === 'unsubscribed', 'unsubscribed');
      const seen = leaves.replies.length;
      const last = await driver.ping(offset(at, 900));
      await positionAt(stays, 0, orderId, last.lat);
      expect(leaves.replies.slice(seen)).toEqual([]);
      expect(await w.tg.metric('hexfleet_tracking_deliveries_total', { type: 'position' })).toBeGreaterThanOrEqual(8);
    });

    it('sends an assignment frame on every saga transition, and the courier from acceptance to completion', async () => {
      const w = await world(kind);
      const at = nextSite();
      const first = await courier(w, at);
      const second = await courier(w, offset(at, 200));
      const orderId = newOrderId();
      const c = await track(w, await customer(w, [orderId]));
      expect((await subscribe(c, orderId)).state).toBe('waiting');

      expect((await w.api.match({ orderId, pickup: at })).json.driverId).toBe(first.driverId);
      expect((await first.answerOffer(orderId, false)).state).toBe('rejected');
      expect((await second.answerOffer(orderId, true)).state).toBe('accepted');
      const accepted = await frameAfter(c, 0, (f) => f.type === 'assignment' && f.state === 'accepted', 'accepted');
      const live = await statusOf(c, orderId, 'live');
      const pos = await frameAfter(c, 0, (f) => f.type === 'position', 'the courier position');
      expect(accepted).toMatchObject({ orderId, driverId: second.driverId, event: 'accepted' });
      expect(pos).toMatchObject({ orderId, driverId: second.driverId });
      expect(c.replies.indexOf(live)).toBeGreaterThan(c.replies.indexOf(accepted));

      const moved = await second.ping(offset(at, 300));
      await positionAt(c, 0, orderId, moved.lat);
      expect((await w.api.complete(orderId)).status).toBe(200);
      await frameAfter(c, 0, (f) => f.type === 'assignment' && f.state === 'completed', 'completed');
      await statusOf(c, orderId, 'waiting', c.replies.indexOf(live));

      const assignments = framesOf(c, 'assignment', orderId).map((f) => [f.event, f.state, f.driverId]);
      expect(assignments).toEqual([
        ['offered', 'offered', first.driverId],
        ['rejected', 'searching', first.driverId],
        ['offered', 'offered', second.driverId],
        ['accepted', 'accepted', second.driverId],
        ['completed', 'completed', second.driverId],
      ]);
      // The rejecting driver was never shown.
      expect(framesOf(c, 'position').every((f) => f.driverId === second.driverId)).toBe(true);
    });

    it('answers msgpack frames with msgpack', async () => {
      const w = await world(kind);
      const { at, driver, orderId } = await assignedOrder(w);
      const c = await track(w, await customer(w, [orderId]), 'msgpack');
      const status = await subscribe(c, orderId);
      expect(status).toMatchObject({ type: 'status', state: 'live', binary: true });
      const p = await driver.ping(offset(at, 20));
      expect(await positionAt(c, 0, orderId, p.lat)).toMatchObject({ binary: true, driverId: driver.driverId });
      c.sendRaw(Buffer.from([0xa5, 0x61]), true); // a 5-byte string cut after 1 byte
      expect(await c.waitForError('malformed_frame')).toMatchObject({ binary: true });
    });
  });

  describe('bad frames', () => {
    it.each([
      ['text that is not JSON', 'nope', false, 'malformed_frame'],
      ['a frame without a type', '{"orderId":"o-1"}', false, 'invalid_frame'],
      ['an unknown type', '{"type":"watch","orderId":"o-1"}', false, 'unknown_type'],
      ['subscribe without an orderId', '{"type":"subscribe"}', false, 'invalid_frame'],
      ['subscribe with an unprintable orderId', '{"type":"subscribe","orderId":"o 1"}', false, 'invalid_frame'],
      ['subscribe_area without a bbox', '{"type":"subscribe_area"}', false, 'invalid_bbox'],
    ] as const)('answers %s with %s and never hurts another subscriber', async (_what, raw, binary, code) => {
      const w = await world(kind);
      const { at, driver, orderId } = await assignedOrder(w);
      const good = await track(w, await customer(w, [orderId]));
      await subscribe(good, orderId);
      const bad = await track(w, await w.tg.token('admin', 'ops'));
      bad.sendRaw(raw, binary);
      expect((await bad.waitForError(code)).binary).toBe(binary);
      const p = await driver.ping(offset(at, 40));
      await positionAt(good, 0, orderId, p.lat);
      expect(bad.isOpen).toBe(true);
    });

    it('closes a connection that keeps sending malformed frames with 4400', async () => {
      const w = await world(kind);
      const c = await track(w, await w.tg.token('admin', 'ops'));
      for (let i = 0; i <= w.tg.config.badFrameLimit; i++) c.sendRaw('{', false);
      expect((await c.closed).code).toBe(4400);
    });
  });

  describe('driver link states', () => {
    const env = { HEXFLEET_DEGRADED_MS: '400', HEXFLEET_OFFLINE_MS: '1200', HEXFLEET_STALE_MS: '1200' };

    it('goes live → degraded (last-known position with its age) → lost, and back to live on the next ping', async () => {
      const w = await world(kind, env);
      const { at, driver, orderId } = await assignedOrder(w);
      const c = await track(w, await customer(w, [orderId]));
      await subscribe(c, orderId);
      const fix = await driver.ping(offset(at, 10));
      const live = await statusOf(c, orderId, 'live');
      const degraded = await statusOf(c, orderId, 'degraded', c.replies.indexOf(live));
      expect(degraded.lastTs).toBe(fix.ts);
      expect(degraded.ageMs).toBeGreaterThan(400);
      const lost = await statusOf(c, orderId, 'lost', c.replies.indexOf(degraded));
      expect(lost.lastTs).toBe(fix.ts);
      expect(lost.ageMs).toBeGreaterThan(1200);
      // A subscriber arriving now is told the truth at once: lost, with the old position and its real age.
      const late = await track(w, await customer(w, [orderId]));
      expect(await subscribe(late, orderId)).toMatchObject({ state: 'lost', lastTs: fix.ts });
      expect((await frameAfter(late, 0, (f) => f.type === 'position', 'last-known position')).ageMs).toBeGreaterThan(1200);

      const from = c.replies.length;
      const back = await driver.ping(offset(at, 20));
      const again = await statusOf(c, orderId, 'live', from);
      const pos = await positionAt(c, from, orderId, back.lat);
      expect(c.replies.indexOf(pos)).toBeGreaterThan(c.replies.indexOf(again));
      expect(again.lastTs).toBe(back.ts);
    });
  });

  describe('throttling and slow subscribers', () => {
    it('sends at most HEXFLEET_TRACK_MAX_HZ positions per second, latest wins', async () => {
      const w = await world(kind, { HEXFLEET_TRACK_MAX_HZ: '1' });
      const { at, driver, orderId } = await assignedOrder(w);
      const c = await track(w, await customer(w, [orderId]));
      await subscribe(c, orderId);
      await frameAfter(c, 0, (f) => f.type === 'position', 'snapshot position');
      const from = c.replies.length;
      const start = Date.now();
      const lats: number[] = [];
      for (let i = 1; i <= 10; i++) lats.push((await driver.ping(offset(at, i * 10))).lat);
      await positionAt(c, from, orderId, lats[9]!);
      const elapsed = Date.now() - start;
      const got = framesOf(c, 'position').slice(1).map((f) => f.lat!);
      expect(got.length).toBeLessThan(10);
      expect(got.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
      // Never an older position after a newer one, and the newest always arrives.
      expect(got.map((lat) => lats.indexOf(lat))).toEqual([...got.map((lat) => lats.indexOf(lat))].sort((a, b) => a - b));
      expect(got.at(-1)).toBe(lats[9]);
      expect(await w.tg.metric('hexfleet_tracking_dropped_total', { reason: 'throttled' })).toBeGreaterThan(0);
    });

    it('drops positions for a subscriber that does not read and closes it with 4008, while another subscriber and the drivers go on', async () => {
      const w = await world(kind, {
        HEXFLEET_TRACK_MAX_HZ: '1000',
        HEXFLEET_TRACK_BUFFER_BYTES: '1024',
        HEXFLEET_TRACK_SLOW_CONSUMER_MS: '200',
        HEXFLEET_RATE_PINGS_PER_SEC: '1000000',
        HEXFLEET_RATE_BURST: '1000000',
      });
      const site = nextSite();
      const drivers = await Promise.all(Array.from({ length: 40 }, (_, i) => courier(w, offset(site, i * 20))));
      const bbox = [site.lng - 0.05, site.lat - 0.05, site.lng + 0.05, site.lat + 0.05];
      const admin = await w.tg.token('admin', 'ops');
      const slow = await track(w, admin);
      const fast = await track(w, admin);
      for (const c of [slow, fast]) {
        c.send({ type: 'subscribe_area', bbox });
        await c.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');
      }
      const socket = pauseReading(slow);
      const slowClosed = async () => (await w.tg.metric('hexfleet_tracking_disconnects_total', { reason: 'slow_consumer' })) >= 1;
      let round = 0;
      await waitFor(async () => {
        for (let i = 0; i < 20; i++, round++) await Promise.all(drivers.map((d, k) => d.pingNoWait(offset(site, k * 20, round % 100), { status: null })));
        return slowClosed();
      }, { what: 'the slow subscriber to be closed', timeoutMs: 45_000, intervalMs: 1 });
      // The driver stream went on (every ping above was acked), and so does the other subscriber.
      const last = await Promise.all(drivers.map((d, k) => d.ping(offset(site, k * 20, 500))));
      for (const p of last) {
        await frameAfter(fast, 0, (f) => f.type === 'position' && f.lat === p.lat && f.lng === p.lng, `the last position ${p.lat},${p.lng}`);
      }
      expect(fast.isOpen).toBe(true);
      expect(await w.tg.metric('hexfleet_tracking_dropped_total', { reason: 'backpressure' })).toBeGreaterThan(0);
      socket.resume();
      expect((await slow.closed).code).toBe(4008);
    });
  });

  describe('admin areas', () => {
    it('sends throttled positions of every driver inside the bbox and none outside', async () => {
      const w = await world(kind);
      const site = nextSite();
      const inside = await courier(w, site);
      const outside = await courier(w, offset(site, 20_000));
      const ops = await track(w, await w.tg.token('admin', 'ops'));
      const bbox = [site.lng - 0.05, site.lat - 0.05, site.lng + 0.05, site.lat + 0.05];
      ops.send({ type: 'subscribe_area', bbox });
      await ops.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');
      await outside.ping(offset(site, 20_010));
      const p = await inside.ping(offset(site, 10));
      expect(await positionAt(ops, 0, undefined, p.lat)).toMatchObject({ driverId: inside.driverId, bbox, ageMs: expect.any(Number) });
      expect(framesOf(ops, 'position').filter((f) => f.driverId === outside.driverId)).toEqual([]);
      expect(await w.tg.metric('hexfleet_tracking_subscriptions', { kind: 'area' })).toBeGreaterThanOrEqual(1);

      ops.send({ type: 'unsubscribe_area', bbox });
      await ops.waitForReply((f) => f.type === 'area_unsubscribed', 'area_unsubscribed');
      const seen = ops.replies.length;
      const q = await inside.ping(offset(site, 20));
      const watcher = await track(w, await w.tg.token('admin', 'ops2'));
      watcher.send({ type: 'subscribe_area', bbox });
      await watcher.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');
      const r = await inside.ping(offset(site, 30));
      await positionAt(watcher, 0, undefined, r.lat);
      expect(ops.replies.slice(seen).filter((f) => f.type === 'position'), `no position after unsubscribe_area (${q.lat})`).toEqual([]);
    });

    it('supports a bbox that crosses the antimeridian', async () => {
      const w = await world(kind);
      const ops = await track(w, await w.tg.token('admin', 'ops'));
      const bbox = [179.9, -10.1, -179.9, -9.9];
      ops.send({ type: 'subscribe_area', bbox });
      await ops.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');
      const east = await courier(w, { lat: -10, lng: -179.95 });
      const west = await courier(w, { lat: -10, lng: 179.95 });
      const outside = await courier(w, { lat: -10, lng: 0 });
      const e = await east.ping({ lat: -10.01, lng: -179.95 });
      const wp = await west.ping({ lat: -10.02, lng: 179.95 });
      await outside.ping({ lat: -10.03, lng: 0 });
      await positionAt(ops, 0, undefined, e.lat);
      await positionAt(ops, 0, undefined, wp.lat);
      expect(framesOf(ops, 'position').filter((f) => f.driverId === outside.driverId)).toEqual([]);
    });

    it.each([
      ['not an array', 'x'],
      ['three numbers', [0, 0, 1]],
      ['a longitude out of range', [0, 0, 181, 1]],
      ['a latitude out of range', [0, -91, 1, 1]],
      ['minLat above maxLat', [0, 10, 1, 5]],
      ['a non-finite number', [0, 0, 1, null]],
    ])('refuses a bbox with %s (invalid_bbox)', async (_what, bbox) => {
      const w = await world(kind);
      const ops = await track(w, await w.tg.token('admin', 'ops'));
      ops.send({ type: 'subscribe_area', bbox });
      expect((await ops.waitForError('invalid_bbox')).message).toMatch(/bbox/);
    });

    it('refuses subscriptions past HEXFLEET_TRACK_MAX_SUBSCRIPTIONS', async () => {
      const w = await world(kind, { HEXFLEET_TRACK_MAX_SUBSCRIPTIONS: '2' });
      const ops = await track(w, await w.tg.token('admin', 'ops'));
      await subscribe(ops, 'o-a');
      ops.send({ type: 'subscribe_area', bbox: [0, 0, 1, 1] });
      await ops.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');
      expect(await subscribe(ops, 'o-b')).toMatchObject({ type: 'error', code: 'too_many_subscriptions', orderId: 'o-b' });
      expect(await w.tg.metric('hexfleet_tracking_connections')).toBeGreaterThanOrEqual(1);
    });
  });
});
