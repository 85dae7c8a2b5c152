import { cellToLatLng, latLngToCell } from 'h3-js';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '../../src/backend/backend.js';
import { greedyAssignment, solveAssignment, totalCost } from '../../src/solver/assignment-solver.js';
import { GreatCircleEtaProvider } from '../../src/eta/great-circle-eta-provider.js';
import { parseMatchRequest, requestHash } from '../../src/orders/match-request.js';
import type { OrderDoc, Point } from '../../src/orders/order.js';
import type { StoredVehicle, VehicleType } from '../../src/domain/vehicle.js';
import type { DriverStatus } from '../../src/geo/driver-store.js';
import {
  driverToken,
  EventLog,
  expectEventsFollowHistory,
  type MatchApi as MatchApiT,
  MatchApi,
  type MatchBody,
  OfferDriver,
  offset,
} from '../support/dispatch-client.js';
import { BackendHosts, TEST_BACKENDS } from '../support/backends.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { seededRandom } from '../geo/geo-fixtures.js';

/**
 * The match API end to end, on every backend of TEST_BACKENDS: HTTP requests
 * as the order service sends them, driver apps on real WebSockets that
 * receive offers and answer them, and the gateway's in-process event sink.
 * Every case starts its own gateway (on Redis: under its own key prefix, on
 * the file's one redis-server) and works at its own site (~55 km from any
 * other), so no case ever sees another's drivers or orders.
 */

let siteCount = 0;
/** Sites 0.5° of latitude apart between 60° S and 60° N, then the same band 5° further east (hundreds of cases, four backends). */
function nextSite(): Point {
  siteCount++;
  const steps = siteCount * 0.5;
  return { lat: -60 + (steps % 120), lng: 13.4 + Math.floor(steps / 120) * 5 };
}

const ETA = new GreatCircleEtaProvider({ detourFactor: 1.3 });
/** What the gateway answers for a driver at `at` (default config: detour 130 %, default speeds), rounded as the API does. */
function expectedEta(at: Point, pickup: Point, vehicle: StoredVehicle = 'unknown'): { distanceM: number; etaS: number } {
  const r = ETA.estimate([{ ...at, vehicle }], pickup);
  return { distanceM: Math.round(r.distanceM[0]!), etaS: Math.round(r.etaS[0]!) };
}

/** Long enough that no offer expires while a test looks at it, however busy the machine. */
const NO_EXPIRY_ENV = { HEXFLEET_OFFER_TIMEOUT_MS: '600000' };

interface World {
  tg: TestGateway;
  api: MatchApiT;
  events: EventLog;
}

/** What the file starts for the backends it runs on (one redis-server, shared by every case). */
const hosts = new BackendHosts();
afterAll(() => hosts.stop());

/** A gateway of its own for the case, on `kind`, with `env`. */
async function world(kind: BackendKind, env: Record<string, string>): Promise<World> {
  const tg = await startTestGateway(kind, { target: await hosts.target(kind), env });
  const events = new EventLog(tg.gateway.dispatch.events);
  return { tg, api: new MatchApi(tg.port, await tg.serviceToken()), events };
}

/** A driver online at `at`: its socket is open and its ping (available unless told) acked. */
async function driverAt(
  w: World,
  driverId: string,
  at: Point,
  { status = 'available', ageMs = 0, vehicle }: { status?: DriverStatus | null; ageMs?: number; vehicle?: VehicleType } = {},
): Promise<OfferDriver> {
  const client = await w.tg.connect({ queryToken: await driverToken(w.tg.tokens, driverId, vehicle) });
  const d = new OfferDriver(driverId, client);
  await d.ping(at, { status, ageMs });
  return d;
}

async function expectHistory(w: World, orderId: string, expected: [string, string | undefined][]): Promise<any> {
  const doc = await w.api.history(orderId);
  expect(doc.history.map((h: { event: string; driverId?: string }) => [h.event, h.driverId])).toEqual(expected);
  return doc;
}

describe.each(TEST_BACKENDS)('on the %s backend', (kind) => {
  afterEach(stopAllGateways);

  describe('POST /v1/match', () => {
    let w: World;
    beforeEach(async () => {
      w = await world(kind, NO_EXPIRY_ENV);
    });

    it('reserves the nearest available driver, answers 200 with the assignment and sends the driver the offer', async () => {
      const site = nextSite();
      const pickup = site;
      const dropoff = offset(site, 2_000, 500);
      const nearAt = offset(site, 300, 100);
      const near = await driverAt(w, 'api-near', nearAt);
      const far = await driverAt(w, 'api-far', offset(site, -900));
      const before = Date.now();
      const r = await w.api.match({ orderId: 'o-api-1', pickup, dropoff });
      const after = Date.now();
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.json).toEqual({
        orderId: 'o-api-1', state: 'offered', driverId: 'api-near', ...expectedEta(nearAt, pickup), etaSource: 'provider',
        offerExpiresAt: expect.any(Number), attempt: 1,
      });
      expect(r.json.offerExpiresAt).toBeGreaterThanOrEqual(before + 600_000);
      expect(r.json.offerExpiresAt).toBeLessThanOrEqual(after + 600_000);

      expect(await near.waitForOffer('o-api-1')).toEqual({ type: 'offer', orderId: 'o-api-1', pickup, dropoff, expiresAt: r.json.offerExpiresAt, binary: false });
      const { orders } = w.tg.gateway.dispatch;
      const doc = (await orders.get('o-api-1'))!;
      expect(await orders.reservationOf('api-near')).toMatchObject({ driverId: 'api-near', orderId: 'o-api-1', fence: doc.fence });
      expect(await orders.reservationOf('api-far')).toBeNull();
      expect(far.offers).toEqual([]);
      expectEventsFollowHistory(w.events, doc);
      expect(w.events.of('o-api-1')).toEqual([{ type: 'assignment.offered', orderId: 'o-api-1', state: 'offered', attempt: 1, at: expect.any(Number), driverId: 'api-near' }]);
    });

    it('sends the offer in the encoding of the driver\'s last frame (msgpack), without dropoff when the order has none', async () => {
      const site = nextSite();
      const client = await w.tg.connect({ queryToken: await driverToken(w.tg.tokens, 'api-msgpack'), encoding: 'msgpack' });
      const d = new OfferDriver('api-msgpack', client);
      await d.ping(offset(site, 100));
      const r = await w.api.match({ orderId: 'o-api-msgpack', pickup: site });
      expect(r.json).toMatchObject({ state: 'offered', driverId: 'api-msgpack' });
      expect(await d.waitForOffer('o-api-msgpack')).toEqual({ type: 'offer', orderId: 'o-api-msgpack', pickup: site, expiresAt: r.json.offerExpiresAt, binary: true });
    });

    type Setup = (w: World, site: Point, id: (name: string) => string) => Promise<void>;
    const noDriver: { name: string; setup: Setup; body?: Partial<MatchBody>; heldByFirst?: boolean }[] = [
      { name: 'nobody online at all', setup: async () => {} },
      { name: 'the only driver is beyond the radius', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 3_200))) },
      { name: 'the only driver is beyond a smaller radius given', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 800))), body: { radiusM: 500 } },
      { name: 'the only driver is busy', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 100), { status: 'busy' })) },
      { name: 'the only driver is offline', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 100), { status: 'offline' })) },
      { name: 'the only driver never sent a status', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 100), { status: null })) },
      { name: 'the only driver is stale (last fix older than staleMs)', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 100), { ageMs: 60_000 })) },
      {
        name: 'the only driver is reserved by another order',
        setup: async (w, site, id) => {
          await driverAt(w, id('d'), offset(site, 100));
          const first = await w.api.match({ orderId: id('first'), pickup: site });
          expect(first.json).toMatchObject({ state: 'offered', driverId: id('d') });
        },
        heldByFirst: true,
      },
      { name: 'the only driver rides a bike and a car is required', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 100), { vehicle: 'bike' })), body: { requirements: { vehicle: ['car'] } } },
      { name: 'the only driver has no vehicle claim and a vehicle is required', setup: async (w, site, id) => void (await driverAt(w, id('d'), offset(site, 100))), body: { requirements: { vehicle: ['bike', 'car', 'scooter', 'walk'] } } },
    ];
    it.each(noDriver.map((row, i) => ({ ...row, i })))('404 no_driver when $name', async ({ setup, body, heldByFirst, i }) => {
      const site = nextSite();
      const id = (name: string): string => `nd${i}-${name}`;
      await setup(w, site, id);
      const orderId = id('order');
      const r = await w.api.match({ orderId, pickup: site, ...body });
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ code: 'no_driver', message: expect.any(String), orderId, reason: 'no_driver' });
      const doc = await w.api.history(orderId);
      expect(doc).toMatchObject({ orderId, state: 'failed', attempt: 0, reason: 'no_driver', tried: [] });
      expect(doc.driverId).toBeUndefined();
      expectEventsFollowHistory(w.events, doc);
      expect(w.events.types(orderId)).toEqual(['failed']);
      // Nothing was reserved for the failed order (the reserved driver stays with its own order).
      expect(await w.tg.gateway.dispatch.orders.reservationOf(id('d'))).toEqual(heldByFirst ? expect.objectContaining({ orderId: id('first') }) : null);
    });

    const vehicleMatches: { name: string; vehicle: VehicleType; required: VehicleType[] }[] = [
      { name: 'a car when a car is required', vehicle: 'car', required: ['car'] },
      { name: 'a bike when a bike or a car will do', vehicle: 'bike', required: ['car', 'bike'] },
    ];
    it.each(vehicleMatches)('offers $name, estimating with its own speed', async ({ vehicle, required }) => {
      const site = nextSite();
      const at = offset(site, 400);
      await driverAt(w, `veh-${vehicle}`, at, { vehicle });
      const r = await w.api.match({ orderId: `o-veh-${vehicle}`, pickup: site, requirements: { vehicle: required } });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ state: 'offered', driverId: `veh-${vehicle}`, ...expectedEta(at, site, vehicle) });
    });

    it('prefers the faster driver to the nearer one: ranking is by ETA', async () => {
      const site = nextSite();
      await driverAt(w, 'eta-walker', offset(site, 300), { vehicle: 'walk' });
      await driverAt(w, 'eta-car', offset(site, 700), { vehicle: 'car' });
      const r = await w.api.match({ orderId: 'o-eta', pickup: site });
      expect(r.json).toMatchObject({ state: 'offered', driverId: 'eta-car' });
      expect(r.json.etaS).toBeLessThan(expectedEta(offset(site, 300), site, 'walk').etaS);
    });

    const pickup = { lat: 52.5, lng: 13.4 };
    const invalid: { name: string; body: unknown; field: string }[] = [
      { name: 'a body that is not JSON', body: '{"orderId":', field: 'the body is not valid JSON' },
      { name: 'an array', body: [], field: 'body must be a JSON object' },
      { name: 'null', body: 'null', field: 'body must be a JSON object' },
      { name: 'no orderId', body: { pickup }, field: 'orderId' },
      { name: 'an empty orderId', body: { orderId: '', pickup }, field: 'orderId' },
      { name: 'an orderId with a space', body: { orderId: 'o 1', pickup }, field: 'orderId' },
      { name: 'a numeric orderId', body: { orderId: 17, pickup }, field: 'orderId' },
      { name: 'no pickup', body: { orderId: 'o-1' }, field: 'pickup' },
      { name: 'a pickup that is a string', body: { orderId: 'o-1', pickup: '52.5,13.4' }, field: 'pickup' },
      { name: 'pickup.lat above 90', body: { orderId: 'o-1', pickup: { lat: 90.5, lng: 13.4 } }, field: 'pickup.lat' },
      { name: 'pickup.lat missing', body: { orderId: 'o-1', pickup: { lng: 13.4 } }, field: 'pickup.lat' },
      { name: 'pickup.lng as a string', body: { orderId: 'o-1', pickup: { lat: 52.5, lng: '13.4' } }, field: 'pickup.lng' },
      { name: 'pickup.lng below -180', body: { orderId: 'o-1', pickup: { lat: 52.5, lng: -180.5 } }, field: 'pickup.lng' },
      { name: 'dropoff.lat not a number', body: { orderId: 'o-1', pickup, dropoff: { lat: null, lng: 1 } }, field: 'dropoff.lat' },
      { name: 'dropoff that is not an object', body: { orderId: 'o-1', pickup, dropoff: 7 }, field: 'dropoff' },
      { name: 'radiusM of 0', body: { orderId: 'o-1', pickup, radiusM: 0 }, field: 'radiusM' },
      { name: 'a negative radiusM', body: { orderId: 'o-1', pickup, radiusM: -5 }, field: 'radiusM' },
      { name: 'radiusM above the maximum', body: { orderId: 'o-1', pickup, radiusM: 20_001 }, field: 'radiusM' },
      { name: 'radiusM as a string', body: { orderId: 'o-1', pickup, radiusM: '3000' }, field: 'radiusM' },
      { name: 'requirements that are a string', body: { orderId: 'o-1', pickup, requirements: 'car' }, field: 'requirements' },
      { name: 'requirements.vehicle that is a string', body: { orderId: 'o-1', pickup, requirements: { vehicle: 'car' } }, field: 'requirements.vehicle' },
      { name: 'an unknown vehicle type', body: { orderId: 'o-1', pickup, requirements: { vehicle: ['car', 'truck'] } }, field: 'requirements.vehicle' },
      { name: 'an unknown mode', body: { orderId: 'o-1', pickup, mode: 'later' }, field: 'mode' },
      { name: 'a body larger than 16 KiB', body: { orderId: 'o-1', pickup, note: 'x'.repeat(17_000) }, field: 'larger than' },
    ];
    it.each(invalid)('400 invalid_body naming the field for $name', async ({ body, field }) => {
      const r = await w.api.match(body);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ code: 'invalid_body', message: expect.stringContaining(field) });
      expect(await w.tg.gateway.dispatch.orders.get('o-1')).toBeNull();
    });

    it('400 id_too_long naming the field for an orderId of 129 characters (the id limits table), without quoting it', async () => {
      const r = await w.api.match({ orderId: 'o'.repeat(129), pickup });
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ code: 'id_too_long', message: 'orderId is 129 characters long; at most 128' });
    });

    it('400 invalid_parameter for an Idempotency-Key that is not printable characters, id_too_long for one over 128', async () => {
      const spaced = await w.api.match({ orderId: 'o-key', pickup }, { idempotencyKey: 'k k' });
      expect(spaced.status).toBe(400);
      expect(spaced.json).toMatchObject({ code: 'invalid_parameter', message: expect.stringContaining('Idempotency-Key') });
      const long = await w.api.match({ orderId: 'o-key', pickup }, { idempotencyKey: 'k'.repeat(129) });
      expect(long.status).toBe(400);
      expect(long.json).toMatchObject({ code: 'id_too_long', message: expect.stringContaining('Idempotency-Key') });
    });

    describe('authentication', () => {
      const endpoints: { name: string; call: (api: MatchApiT, token: string) => Promise<{ status: number; json: any }> }[] = [
        { name: 'POST /v1/match', call: (api, token) => api.match({ orderId: 'o-auth', pickup }, { token }) },
        { name: 'GET /v1/orders/:id/assignment', call: (api, token) => api.assignment('o-auth', token) },
        { name: 'POST /v1/orders/:id/cancel', call: (api, token) => api.cancel('o-auth', token) },
        { name: 'POST /v1/orders/:id/complete', call: (api, token) => api.complete('o-auth', token) },
      ];
      const refusals: { who: string; token: (tg: TestGateway) => Promise<string>; status: number; code: string }[] = [
        { who: 'no token', token: async () => '', status: 401, code: 'unauthorized' },
        { who: 'a token with a forged signature', token: async (tg) => (await tg.token('service', 'svc')).slice(0, -4) + 'AAAA', status: 401, code: 'unauthorized' },
        { who: 'an expired service token', token: (tg) => tg.tokens.sign({ role: 'service', sub: 'svc', ttlS: -10 }), status: 401, code: 'unauthorized' },
        { who: 'a driver token', token: (tg) => tg.token('driver', 'drv-1'), status: 403, code: 'forbidden' },
      ];
      const cases = endpoints.flatMap((e) => refusals.map((r) => ({ ...e, ...r })));
      it.each(cases)('$name with $who → $status $code, and nothing is created', async ({ call, token, status, code }) => {
        const jwt = await token(w.tg);
        const r = await call(w.api, jwt);
        expect(r.status).toBe(status);
        expect(r.json).toMatchObject({ code });
        expect(await w.tg.gateway.dispatch.orders.get('o-auth')).toBeNull();
      });

      it.each(['service', 'admin'] as const)('a %s token may use every endpoint', async (role) => {
        const jwt = await w.tg.token(role, `${role}-1`);
        const r = await w.api.match({ orderId: `o-role-${role}`, pickup: nextSite() }, { token: jwt });
        expect(r.status).toBe(404);
        expect((await w.api.assignment(`o-role-${role}`, jwt)).status).toBe(200);
        expect((await w.api.complete(`o-role-${role}`, jwt)).json).toMatchObject({ code: 'order_closed' });
        expect((await w.api.cancel(`o-role-${role}`, jwt)).json).toMatchObject({ code: 'order_closed' });
      });
    });

    describe('idempotency', () => {
      it('the same orderId again returns the same assignment and reserves no second driver', async () => {
        const site = nextSite();
        const near = await driverAt(w, 'idem-near', offset(site, 200));
        const other = await driverAt(w, 'idem-other', offset(site, 400));
        const body = { orderId: 'o-idem-1', pickup: site, dropoff: offset(site, 1_000) };
        const first = await w.api.match(body);
        expect(first.json).toMatchObject({ state: 'offered', driverId: 'idem-near', attempt: 1 });
        // Retried at once, and many times concurrently: the client lost the answer.
        const again = await Promise.all([1, 2, 3, 4, 5].map(() => w.api.match(body)));
        for (const r of again) {
          expect(r.status).toBe(200);
          expect(r.json).toEqual(first.json);
        }
        // The same body with its fields in another order is the same request.
        const reordered = await w.api.match(JSON.stringify({ dropoff: body.dropoff, pickup: { lng: site.lng, lat: site.lat }, orderId: 'o-idem-1' }));
        expect(reordered.json).toEqual(first.json);
        const { orders } = w.tg.gateway.dispatch;
        expect(await orders.reservationOf('idem-other')).toBeNull();
        expect(await orders.reservationOf('idem-near')).toMatchObject({ orderId: 'o-idem-1' });
        await near.waitForOffer('o-idem-1');
        expect(near.offers).toHaveLength(1);
        expect(other.offers).toEqual([]);
        expect(w.events.types('o-idem-1')).toEqual(['offered']);
      });

      it('an Idempotency-Key names one order: the same key with another order is 422 and creates nothing', async () => {
        const site = nextSite();
        await driverAt(w, 'key-a', offset(site, 200));
        await driverAt(w, 'key-b', offset(site, 400));
        const first = await w.api.match({ orderId: 'o-key-a', pickup: site }, { idempotencyKey: 'req-1' });
        expect(first.json).toMatchObject({ state: 'offered', driverId: 'key-a' });
        const same = await w.api.match({ orderId: 'o-key-a', pickup: site }, { idempotencyKey: 'req-1' });
        expect(same.json).toEqual(first.json);
        const other = await w.api.match({ orderId: 'o-key-b', pickup: site }, { idempotencyKey: 'req-1' });
        expect(other.status).toBe(422);
        expect(other.json).toEqual({ code: 'idempotency_conflict', message: expect.stringContaining('o-key-a') });
        expect((await w.api.assignment('o-key-b')).status).toBe(404);
        expect(await w.tg.gateway.dispatch.orders.reservationOf('key-b')).toBeNull();
        // Another key for the other order is a new request.
        const b = await w.api.match({ orderId: 'o-key-b', pickup: site }, { idempotencyKey: 'req-2' });
        expect(b.json).toMatchObject({ state: 'offered', driverId: 'key-b' });
      });

      const changed: { name: string; change: Partial<MatchBody> }[] = [
        { name: 'another pickup', change: { pickup: { lat: 1, lng: 1 } } },
        { name: 'a dropoff added', change: { dropoff: { lat: 1, lng: 1 } } },
        { name: 'another radius', change: { radiusM: 2_999 } },
        { name: 'a vehicle requirement added', change: { requirements: { vehicle: ['car'] } } },
        { name: 'batch mode', change: { mode: 'batch' } },
      ];
      it.each(changed)('the same orderId with a different body ($name) is 422 and leaves the order as it was', async ({ change }) => {
        const site = nextSite();
        const orderId = `o-changed-${Object.keys(change)[0]}`;
        await driverAt(w, `${orderId}-d`, offset(site, 200));
        const first = await w.api.match({ orderId, pickup: site });
        expect(first.status).toBe(200);
        const before = await w.tg.gateway.dispatch.orders.get(orderId);
        const r = await w.api.match({ orderId, pickup: site, ...change });
        expect(r.status).toBe(422);
        expect(r.json).toMatchObject({ code: 'idempotency_conflict' });
        expect(await w.tg.gateway.dispatch.orders.get(orderId)).toEqual(before);
      });

      it('a match still in flight is 409 match_in_flight; when its owner lapses any gateway takes the search over', async () => {
        const site = nextSite();
        const d = await driverAt(w, 'inflight-d', offset(site, 200));
        const body = { orderId: 'o-inflight', pickup: site };
        const request = parseMatchRequest(body, { defaultRadiusM: w.tg.config.matchRadiusM, maxRadiusM: w.tg.config.nearbyMaxRadiusM });
        const { orders } = w.tg.gateway.dispatch;
        // Another process began this very request and is searching, holding a live lease.
        const now = Date.now();
        const searching: OrderDoc = {
          orderId: body.orderId, state: 'searching', request, requestHash: requestHash(request), attempt: 0, tried: [], history: [],
          leaseUntil: now + 600_000, createdAt: now, updatedAt: now, version: 0,
        };
        expect(await orders.commit(searching, 0, { deadline: now + 600_000 }, now)).toMatchObject({ ok: true, version: 1 });
        const r = await w.api.match(body);
        expect(r.status).toBe(409);
        expect(r.json).toMatchObject({ code: 'match_in_flight' });
        expect((await w.api.history(body.orderId)).state).toBe('searching');

        // That process dies: its lease lapses and the deadline poller resumes the search here.
        const lapsed = Date.now();
        expect(await orders.commit({ ...searching, leaseUntil: lapsed - 1 }, 1, { deadline: lapsed - 1 }, lapsed)).toMatchObject({ ok: true, version: 2 });
        await d.waitForOffer(body.orderId);
        await waitFor(async () => (await w.api.history(body.orderId)).state === 'offered', { what: 'the resumed search to offer the order' });
        await expectHistory(w, body.orderId, [['search_resumed', undefined], ['offered', 'inflight-d']]);
        // The client's retry now finds the assignment.
        expect((await w.api.match(body)).json).toMatchObject({ state: 'offered', driverId: 'inflight-d', attempt: 1 });
      });
    });

    describe('GET /v1/orders/:id/assignment', () => {
      it('tells the current state, the request, the drivers tried and the whole history', async () => {
        const site = nextSite();
        const a = await driverAt(w, 'hist-a', offset(site, 100), { vehicle: 'bike' });
        const bAt = offset(site, 500);
        const b = await driverAt(w, 'hist-b', bAt, { vehicle: 'car' });
        await driverAt(w, 'hist-walker', offset(site, 50), { vehicle: 'walk' });
        const body: MatchBody = { orderId: 'o-hist', pickup: site, dropoff: offset(site, 3_000), radiusM: 2_000, requirements: { vehicle: ['car', 'bike', 'car'] } };
        const t0 = Date.now();
        expect((await w.api.match(body)).json).toMatchObject({ driverId: 'hist-a' });
        expect(await a.reply('o-hist', false)).toMatchObject({ type: 'offer_result', orderId: 'o-hist', state: 'rejected' });
        await b.waitForOffer('o-hist');
        expect(await b.reply('o-hist', true)).toMatchObject({ type: 'offer_result', orderId: 'o-hist', state: 'accepted' });
        const t1 = Date.now();
        const r = await w.api.assignment('o-hist');
        expect(r.status).toBe(200);
        expect(r.json).toEqual({
          orderId: 'o-hist', state: 'accepted', attempt: 2, driverId: 'hist-b', ...expectedEta(bAt, site, 'car'), etaSource: 'provider',
          // As parsed: defaults filled in, the vehicle list deduplicated and sorted.
          request: { orderId: 'o-hist', pickup: site, dropoff: body.dropoff, radiusM: 2_000, requirements: { vehicle: ['bike', 'car'] }, mode: 'immediate' },
          tried: ['hist-a', 'hist-b'],
          history: [
            { at: expect.any(Number), event: 'offered', attempt: 1, driverId: 'hist-a' },
            { at: expect.any(Number), event: 'rejected', attempt: 1, driverId: 'hist-a' },
            { at: expect.any(Number), event: 'offered', attempt: 2, driverId: 'hist-b' },
            { at: expect.any(Number), event: 'accepted', attempt: 2, driverId: 'hist-b' },
          ],
          createdAt: expect.any(Number),
          updatedAt: expect.any(Number),
        });
        const times = [r.json.createdAt, ...r.json.history.map((h: { at: number }) => h.at), r.json.updatedAt];
        expect(times).toEqual([...times].sort((x, y) => x - y));
        expect(r.json.createdAt).toBeGreaterThanOrEqual(t0);
        expect(r.json.updatedAt).toBeLessThanOrEqual(t1);
        expectEventsFollowHistory(w.events, r.json);
      });

      it('404 not_found for an order nobody asked to match', async () => {
        const r = await w.api.assignment('o-never');
        expect(r.status).toBe(404);
        expect(r.json).toMatchObject({ code: 'not_found' });
        const odd = await w.api.assignment('o%2Fslash%20x');
        expect(odd.status).toBe(404);
      });
    });

    describe('offer saga', () => {
      it('accept: offer_result accepted, the order is accepted and the driver stays reserved; accepting again changes nothing', async () => {
        const site = nextSite();
        const d = await driverAt(w, 'acc-d', offset(site, 150));
        expect((await w.api.match({ orderId: 'o-acc', pickup: site })).json).toMatchObject({ driverId: 'acc-d' });
        await d.waitForOffer('o-acc');
        expect(await d.reply('o-acc', true)).toEqual({ type: 'offer_result', orderId: 'o-acc', state: 'accepted', binary: false });
        const { orders } = w.tg.gateway.dispatch;
        const doc = (await orders.get('o-acc'))!;
        expect(doc).toMatchObject({ state: 'accepted', driverId: 'acc-d' });
        expect(doc.offerExpiresAt).toBeUndefined();
        expect(await orders.reservationOf('acc-d')).toMatchObject({ driverId: 'acc-d', orderId: 'o-acc', fence: doc.fence });
        expect(await orders.due(Date.now() + 3_600_000, 1_000)).not.toContain('o-acc');
        expect(await d.reply('o-acc', true)).toMatchObject({ type: 'offer_result', state: 'accepted' });
        expect(await orders.get('o-acc')).toEqual(doc);
        // An accepted order answers a repeated match with its assignment.
        expect((await w.api.match({ orderId: 'o-acc', pickup: site })).json).toMatchObject({ state: 'accepted', driverId: 'acc-d' });
        expectEventsFollowHistory(w.events, doc);
        expect(w.events.types('o-acc')).toEqual(['offered', 'accepted']);
      });

      it('reject: the next best candidate gets the offer, never a driver twice; the last rejection fails the order', async () => {
        const site = nextSite();
        const drivers = [
          await driverAt(w, 'rej-1', offset(site, 100)),
          await driverAt(w, 'rej-2', offset(site, 300)),
          await driverAt(w, 'rej-3', offset(site, 600)),
        ];
        expect((await w.api.match({ orderId: 'o-rej', pickup: site })).json).toMatchObject({ driverId: 'rej-1', attempt: 1 });
        for (const [i, d] of drivers.entries()) {
          await d.waitForOffer('o-rej');
          expect(await d.reply('o-rej', false)).toMatchObject({ type: 'offer_result', orderId: 'o-rej', state: 'rejected' });
          const doc = await w.api.history('o-rej');
          if (i < 2) expect(doc).toMatchObject({ state: 'offered', driverId: drivers[i + 1]!.driverId, attempt: i + 2 });
          else expect(doc).toMatchObject({ state: 'failed', reason: 'no_driver', attempt: 3 });
        }
        const doc = await expectHistory(w, 'o-rej', [
          ['offered', 'rej-1'], ['rejected', 'rej-1'], ['offered', 'rej-2'], ['rejected', 'rej-2'], ['offered', 'rej-3'], ['rejected', 'rej-3'], ['failed', undefined],
        ]);
        expect(doc.tried).toEqual(['rej-1', 'rej-2', 'rej-3']);
        for (const d of drivers) {
          expect(d.offersFor('o-rej')).toHaveLength(1);
          expect(await w.tg.gateway.dispatch.orders.reservationOf(d.driverId)).toBeNull();
        }
        expectEventsFollowHistory(w.events, doc);
        // Every rejected driver is free again for other orders.
        expect((await w.api.match({ orderId: 'o-rej-next', pickup: site })).json).toMatchObject({ state: 'offered', driverId: 'rej-1' });
      });

      it('an answer for an order not offered to the driver, or no longer offered to it, is refused and changes nothing', async () => {
        const site = nextSite();
        const a = await driverAt(w, 'late-a', offset(site, 100));
        const b = await driverAt(w, 'late-b', offset(site, 300));
        const c = await driverAt(w, 'late-c', offset(site, 2_000));
        await w.api.match({ orderId: 'o-late', pickup: site });
        await a.waitForOffer('o-late');
        const { orders } = w.tg.gateway.dispatch;
        const offered = await orders.get('o-late');

        for (const accept of [true, false]) {
          expect(await b.reply('o-late', accept)).toEqual({ type: 'error', code: 'not_offered', message: expect.any(String), orderId: 'o-late', binary: false });
          expect(await b.reply('o-nowhere', accept)).toMatchObject({ type: 'error', code: 'not_offered', orderId: 'o-nowhere' });
        }
        expect(await orders.get('o-late')).toEqual(offered);
        expect(await orders.get('o-nowhere')).toBeNull();

        // a rejects; the order moves to b. a changing its mind is too late.
        expect(await a.reply('o-late', false)).toMatchObject({ state: 'rejected' });
        await b.waitForOffer('o-late');
        const moved = await orders.get('o-late');
        for (const accept of [true, false]) {
          expect(await a.reply('o-late', accept)).toMatchObject({ type: 'error', code: 'offer_expired', orderId: 'o-late' });
        }
        expect(await c.reply('o-late', true)).toMatchObject({ type: 'error', code: 'not_offered' });
        expect(await orders.get('o-late')).toEqual(moved);
        expect(await orders.reservationOf('late-a')).toBeNull();
        expect(await orders.reservationOf('late-b')).toMatchObject({ orderId: 'o-late' });

        // A malformed answer is a frame error, not an answer.
        b.client.send({ type: 'offer_reply', orderId: 'o-late', accept: 'yes' });
        await b.client.waitForError('invalid_frame');
        expect(await orders.get('o-late')).toEqual(moved);
      });
    });

    describe('cancel and complete', () => {
      it('cancel releases the offered driver, who can be matched again; cancelling twice is 200', async () => {
        const site = nextSite();
        const d = await driverAt(w, 'cxl-d', offset(site, 100));
        await w.api.match({ orderId: 'o-cxl', pickup: site });
        const r = await w.api.cancel('o-cxl');
        expect(r.status).toBe(200);
        expect(r.json).toMatchObject({ orderId: 'o-cxl', state: 'cancelled', attempt: 1, driverId: 'cxl-d' });
        expect(r.json.offerExpiresAt).toBeUndefined();
        const { orders } = w.tg.gateway.dispatch;
        expect(await orders.reservationOf('cxl-d')).toBeNull();
        expect(await orders.openOrders()).not.toContain('o-cxl');
        const twice = await w.api.cancel('o-cxl');
        expect(twice.status).toBe(200);
        expect(twice.json).toEqual(r.json);
        expect(w.events.types('o-cxl')).toEqual(['offered', 'cancelled']);
        // The driver's late answer to the withdrawn offer changes nothing.
        expect(await d.reply('o-cxl', true)).toMatchObject({ type: 'error', code: 'offer_expired' });
        // The match of a cancelled order answers its state, it does not start again.
        expect((await w.api.match({ orderId: 'o-cxl', pickup: site })).json).toMatchObject({ state: 'cancelled' });
        expect((await w.api.match({ orderId: 'o-cxl-2', pickup: site })).json).toMatchObject({ state: 'offered', driverId: 'cxl-d' });
        expectEventsFollowHistory(w.events, await w.api.history('o-cxl'));
      });

      it('cancel of an accepted order releases its driver', async () => {
        const site = nextSite();
        const d = await driverAt(w, 'cxl-acc', offset(site, 100));
        await w.api.match({ orderId: 'o-cxl-acc', pickup: site });
        await d.waitForOffer('o-cxl-acc');
        await d.reply('o-cxl-acc', true);
        expect((await w.api.cancel('o-cxl-acc')).json).toMatchObject({ state: 'cancelled' });
        expect(await w.tg.gateway.dispatch.orders.reservationOf('cxl-acc')).toBeNull();
        await expectHistory(w, 'o-cxl-acc', [['offered', 'cxl-acc'], ['accepted', 'cxl-acc'], ['cancelled', 'cxl-acc']]);
      });

      it('complete frees the driver of an accepted order; cancelling a completed order is 409 order_closed', async () => {
        const site = nextSite();
        const d = await driverAt(w, 'done-d', offset(site, 100));
        await w.api.match({ orderId: 'o-done', pickup: site });
        await d.waitForOffer('o-done');
        const early = await w.api.complete('o-done');
        expect(early.status).toBe(409);
        expect(early.json).toMatchObject({ code: 'order_closed', message: expect.stringContaining('offered') });
        await d.reply('o-done', true);
        const done = await w.api.complete('o-done');
        expect(done.status).toBe(200);
        expect(done.json).toMatchObject({ orderId: 'o-done', state: 'completed', driverId: 'done-d' });
        expect(await w.tg.gateway.dispatch.orders.reservationOf('done-d')).toBeNull();
        expect((await w.api.complete('o-done')).status).toBe(200);
        const cancel = await w.api.cancel('o-done');
        expect(cancel.status).toBe(409);
        expect(cancel.json).toMatchObject({ code: 'order_closed', message: expect.stringContaining('completed') });
        const doc = await expectHistory(w, 'o-done', [['offered', 'done-d'], ['accepted', 'done-d'], ['completed', 'done-d']]);
        expectEventsFollowHistory(w.events, doc);
        expect((await w.api.match({ orderId: 'o-done-2', pickup: site })).json).toMatchObject({ driverId: 'done-d' });
      });

      it('cancel and complete of an unknown order are 404 not_found', async () => {
        for (const r of [await w.api.cancel('o-unknown'), await w.api.complete('o-unknown')]) {
          expect(r.status).toBe(404);
          expect(r.json).toMatchObject({ code: 'not_found' });
        }
      });
    });
  });

  describe('offer expiry (short offer timeout, fast deadline poller)', () => {
    let w: World;
    beforeEach(async () => {
      w = await world(kind, { HEXFLEET_OFFER_TIMEOUT_MS: '400', HEXFLEET_DEADLINE_POLL_MS: '20', HEXFLEET_RESERVATION_MARGIN_MS: '60000' });
    });

    it('an unanswered offer expires and moves to the next candidate, and the order fails after the last; late answers change nothing', async () => {
      const site = nextSite();
      const drivers = [
        await driverAt(w, 'exp-1', offset(site, 100)),
        await driverAt(w, 'exp-2', offset(site, 300)),
        await driverAt(w, 'exp-3', offset(site, 600)),
      ];
      const r = await w.api.match({ orderId: 'o-exp', pickup: site });
      expect(r.json).toMatchObject({ state: 'offered', driverId: 'exp-1' });
      for (const d of drivers) await d.waitForOffer('o-exp');
      await waitFor(async () => (await w.api.history('o-exp')).state === 'failed', { what: 'the order to fail after three expired offers' });
      const doc = await expectHistory(w, 'o-exp', [
        ['offered', 'exp-1'], ['expired', 'exp-1'], ['offered', 'exp-2'], ['expired', 'exp-2'], ['offered', 'exp-3'], ['expired', 'exp-3'], ['failed', undefined],
      ]);
      expect(doc).toMatchObject({ reason: 'no_driver', attempt: 3, tried: ['exp-1', 'exp-2', 'exp-3'] });
      const { orders } = w.tg.gateway.dispatch;
      // Expiry released each driver explicitly, long before its reservation's own lease (margin 60 s) would have.
      for (const d of drivers) {
        expect(d.offersFor('o-exp')).toHaveLength(1);
        expect(await orders.reservationOf(d.driverId)).toBeNull();
      }
      expectEventsFollowHistory(w.events, doc);
      expect(w.events.of('o-exp').filter((e) => e.type === 'assignment.expired').map((e) => e.driverId)).toEqual(['exp-1', 'exp-2', 'exp-3']);

      const failed = await orders.get('o-exp');
      for (const d of drivers) {
        expect(await d.reply('o-exp', true)).toMatchObject({ type: 'error', code: 'offer_expired', orderId: 'o-exp' });
      }
      expect(await orders.get('o-exp')).toEqual(failed);
    });

    it('an answer after the deadline is offer_expired even before the poller has moved the order on', async () => {
      // This gateway's poller is stopped, so only the driver's answer meets the passed deadline.
      const site = nextSite();
      const d = await driverAt(w, 'exp-late', offset(site, 100));
      await w.tg.gateway.dispatch.poller.stop();
      const r = await w.api.match({ orderId: 'o-exp-late', pickup: site });
      const offer = await d.waitForOffer('o-exp-late');
      expect(offer.expiresAt).toBe(r.json.offerExpiresAt);
      await waitFor(() => Date.now() > offer.expiresAt, { what: 'the offer deadline to pass' });
      const { orders } = w.tg.gateway.dispatch;
      const before = await orders.get('o-exp-late');
      expect(before!.state).toBe('offered');
      expect(await d.reply('o-exp-late', true)).toMatchObject({ type: 'error', code: 'offer_expired' });
      expect(await orders.get('o-exp-late')).toEqual(before);
      // The poller's work, run by hand: the offer expires and, with nobody else around, the order fails.
      await w.tg.gateway.dispatch.poller.poll();
      await expectHistory(w, 'o-exp-late', [['offered', 'exp-late'], ['expired', 'exp-late'], ['failed', undefined]]);
      w.tg.gateway.dispatch.poller.start();
    });
  });

  describe('max attempts', () => {
    it('after HEXFLEET_MATCH_MAX_ATTEMPTS offers the order fails, with drivers left untried', async () => {
      const w = await world(kind, { ...NO_EXPIRY_ENV, HEXFLEET_MATCH_MAX_ATTEMPTS: '2' });
      const site = nextSite();
      const drivers = [
        await driverAt(w, 'max-1', offset(site, 100)),
        await driverAt(w, 'max-2', offset(site, 300)),
        await driverAt(w, 'max-3', offset(site, 600)),
      ];
      await w.api.match({ orderId: 'o-max', pickup: site });
      await drivers[0]!.waitForOffer('o-max');
      await drivers[0]!.reply('o-max', false);
      await drivers[1]!.waitForOffer('o-max');
      expect(await drivers[1]!.reply('o-max', false)).toMatchObject({ state: 'rejected' });
      const doc = await expectHistory(w, 'o-max', [['offered', 'max-1'], ['rejected', 'max-1'], ['offered', 'max-2'], ['rejected', 'max-2'], ['failed', undefined]]);
      expect(doc).toMatchObject({ state: 'failed', reason: 'max_attempts', attempt: 2 });
      expect(drivers[2]!.offers).toEqual([]);
      expect(await w.tg.gateway.dispatch.orders.reservations()).toEqual([]);
      expectEventsFollowHistory(w.events, doc);
      expect(w.events.of('o-max').at(-1)).toMatchObject({ type: 'assignment.failed', reason: 'max_attempts' });
      // Asking again cannot get around the limit.
      const again = await w.api.match({ orderId: 'o-max', pickup: site });
      expect(again.status).toBe(404);
      expect(again.json).toMatchObject({ code: 'no_driver', reason: 'max_attempts' });
      expect(drivers[2]!.offers).toEqual([]);
    });
  });

  describe('overload (HEXFLEET_DISPATCH_MAX_QUEUE=0)', () => {
    it('answers 503 overloaded with Retry-After while driver pings keep being acked; a retry starts afresh', async () => {
      // Every ranking on the pool (HEXFLEET_DISPATCH_RANK_IN_THREAD_MAX=0): short lists are ranked on the event
      // loop by default, and the bulkhead under test is the pool's, which long lists and batch solving use.
      const w = await world(kind, { ...NO_EXPIRY_ENV, HEXFLEET_DISPATCH_THREADS: '1', HEXFLEET_DISPATCH_MAX_QUEUE: '0', HEXFLEET_DISPATCH_RANK_IN_THREAD_MAX: '0' });
      const site = nextSite();
      const only = await driverAt(w, 'ovl-d', offset(site, 100));
      const pinger = await driverAt(w, 'ovl-pinger', offset(site, 40_000));
      const results: { orderId: string; status: number; json: any; retryAfter: string | undefined; ms: number }[] = [];
      let pingsAcked = 0;
      // A burst of concurrent matches over one worker thread and no queue: some
      // must find the pool full. Bursts repeat until one does (it takes one on
      // any machine seen so far; the bound only stops a broken gateway).
      for (let burst = 0; burst < 20 && !results.some((r) => r.status === 503); burst++) {
        let done = false;
        const pings = (async () => {
          // The driver app keeps streaming through the burst; every ping must be acked.
          while (!done) {
            await pinger.ping(offset(site, 40_000, pingsAcked));
            pingsAcked++;
          }
        })();
        const batch = await Promise.all(Array.from({ length: 150 }, async (_, i) => {
          const orderId = `o-ovl-${burst}-${i}`;
          const t0 = performance.now();
          const r = await w.api.match({ orderId, pickup: offset(site, i) });
          return { orderId, status: r.status, json: r.json, retryAfter: r.headers['retry-after'] as string | undefined, ms: performance.now() - t0 };
        }));
        done = true;
        await pings;
        results.push(...batch);
      }
      const overloaded = results.filter((r) => r.status === 503);
      expect(overloaded.length).toBeGreaterThan(0);
      for (const r of overloaded) {
        expect(r.json).toEqual({ code: 'overloaded', message: expect.stringContaining('limit') });
        expect(r.retryAfter).toBe('1');
      }
      expect(results.filter((r) => ![200, 404, 503].includes(r.status))).toEqual([]);
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(pingsAcked).toBeGreaterThan(0);
      expect(pinger.client.replies.filter((r) => r.type === 'error')).toEqual([]);
      expect(await w.tg.metric('hexfleet_matches_total', { outcome: 'overloaded', mode: 'immediate' })).toBe(overloaded.length);
      const sorted = (xs: number[]) => xs.slice().sort((a, b) => a - b);
      const p50 = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
      console.info(`[overload] ${results.length} matches in ${Math.ceil(results.length / 150)} burst(s): ${overloaded.length} × 503 (p50 ${p50(overloaded.map((r) => r.ms)).toFixed(1)} ms), `
        + `others p50 ${p50(results.filter((r) => r.status !== 503).map((r) => r.ms)).toFixed(1)} ms; ${pingsAcked} pings acked meanwhile`);

      // The overloaded order failed with its reason, so the client's retry starts it afresh.
      const retried = overloaded[0]!.orderId;
      expect(await w.api.history(retried)).toMatchObject({ state: 'failed', reason: 'overloaded' });
      const offered = results.find((r) => r.status === 200)!;
      expect((await w.api.cancel(offered.orderId)).status).toBe(200);
      const i = Number(retried.split('-').at(-1));
      const again = await w.api.match({ orderId: retried, pickup: offset(site, i) });
      expect(again.json).toMatchObject({ state: 'offered', driverId: 'ovl-d' });
      await only.waitForOffer(retried);
      await expectHistory(w, retried, [['failed', undefined], ['search_resumed', undefined], ['offered', 'ovl-d']]);
    });
  });

  describe('batch mode', () => {
    let w: World;
    beforeEach(async () => {
      // Concurrent requests to one local gateway reach the matcher within milliseconds of each other: a
      // window of 1.5 s keeps them in one batch with a wide margin for a busy machine, and every case waits it out.
      w = await world(kind, { ...NO_EXPIRY_ENV, HEXFLEET_BATCH_WINDOW_MS: '1500', HEXFLEET_SEARCH_LEASE_MS: '30000' });
    });

    /** The centre of the batch area (H3 res 6) of a fresh site: pickups within ~2 km of it share the area. */
    function batchSite(): Point {
      const s = nextSite();
      const [lat, lng] = cellToLatLng(latLngToCell(s.lat, s.lng, w.tg.config.batchAreaResolution));
      return offset({ lat, lng }, 0);
    }

    /** The pickup-ETA matrix the batch solves, computed here the way the gateway does (rounded seconds). */
    function costMatrix(pickups: Point[], drivers: Point[]): Float64Array {
      const cost = new Float64Array(pickups.length * drivers.length);
      pickups.forEach((p, i) => drivers.forEach((d, j) => (cost[i * drivers.length + j] = expectedEta(d, p).etaS)));
      return cost;
    }

    it('assigns the pairs of least total ETA where order-by-order greedy would not', async () => {
      const c = batchSite();
      // On one north-south line: greedy gives A its nearest driver (d-mid, 700 m),
      // leaving B the far one (d-south, 1.9 km); the optimum gives A d-south (900 m)
      // and B d-mid (300 m).
      const pickups = { A: c, B: offset(c, 1_000) };
      const at = { mid: offset(c, 700), south: offset(c, -900) };
      for (const p of Object.values(pickups)) expect(latLngToCell(p.lat, p.lng, w.tg.config.batchAreaResolution)).toBe(latLngToCell(c.lat, c.lng, w.tg.config.batchAreaResolution));
      const mid = await driverAt(w, 'bat-mid', at.mid);
      const south = await driverAt(w, 'bat-south', at.south);

      const [a, b] = await Promise.all([
        w.api.match({ orderId: 'o-bat-A', pickup: pickups.A, mode: 'batch' }),
        w.api.match({ orderId: 'o-bat-B', pickup: pickups.B, mode: 'batch' }),
      ]);
      expect(a.json).toMatchObject({ state: 'offered', driverId: 'bat-south', attempt: 1, ...expectedEta(at.south, pickups.A) });
      expect(b.json).toMatchObject({ state: 'offered', driverId: 'bat-mid', attempt: 1, ...expectedEta(at.mid, pickups.B) });
      await south.waitForOffer('o-bat-A');
      await mid.waitForOffer('o-bat-B');

      const cost = costMatrix([pickups.A, pickups.B], [at.mid, at.south]);
      const greedy = greedyAssignment(cost, 2, 2);
      expect(Array.from(greedy)).toEqual([0, 1]);
      const greedyTotal = totalCost(cost, 2, greedy);
      const batchTotal = a.json.etaS + b.json.etaS;
      expect(batchTotal).toBe(totalCost(cost, 2, solveAssignment(cost, 2, 2)));
      expect(batchTotal).toBeLessThan(greedyTotal);

      // Order by order for real (immediate mode, A first) is exactly the greedy baseline.
      await w.api.cancel('o-bat-A');
      await w.api.cancel('o-bat-B');
      const ia = await w.api.match({ orderId: 'o-imm-A', pickup: pickups.A });
      const ib = await w.api.match({ orderId: 'o-imm-B', pickup: pickups.B });
      expect([ia.json.driverId, ib.json.driverId]).toEqual(['bat-mid', 'bat-south']);
      expect(ia.json.etaS + ib.json.etaS).toBe(greedyTotal);
      console.info(`[batch] 2×2 crafted: batch total ETA ${batchTotal} s vs greedy ${greedyTotal} s (${(100 * (1 - batchTotal / greedyTotal)).toFixed(1)} % less)`);
    });

    it('with more orders than drivers, the optimum is offered and the order it leaves out gets 404 no_driver', async () => {
      const c = batchSite();
      // Three pickups on a line, two drivers: the optimum serves the two outer
      // orders with their own driver each and leaves the middle one out.
      const pickups = [offset(c, -1_000), c, offset(c, 1_000)];
      const spots = [offset(c, -1_100), offset(c, 1_100)];
      await driverAt(w, 'few-south', spots[0]!);
      await driverAt(w, 'few-north', spots[1]!);
      const answers = await Promise.all(pickups.map((pickup, i) => w.api.match({ orderId: `o-few-${i}`, pickup, mode: 'batch' })));
      expect(answers.map((r) => [r.status, r.json.driverId ?? r.json.code])).toEqual([[200, 'few-south'], [404, 'no_driver'], [200, 'few-north']]);
      const cost = costMatrix(pickups, spots);
      const batchTotal = answers[0]!.json.etaS + answers[2]!.json.etaS;
      expect(batchTotal).toBe(totalCost(cost, 2, solveAssignment(cost, 3, 2)));
      // Greedy in arrival order gives the middle order a driver and the last one the far driver.
      const greedy = greedyAssignment(cost, 3, 2);
      expect(Array.from(greedy).filter((col) => col >= 0)).toHaveLength(2);
      expect(batchTotal).toBeLessThanOrEqual(totalCost(cost, 2, greedy));
      expect(await w.api.history('o-few-1')).toMatchObject({ state: 'failed', reason: 'no_driver', tried: [] });
    });

    it('is never worse than greedy on random batches: it reaches the optimum of the same cost matrix', async () => {
      const rand = seededRandom(2024);
      const report: string[] = [];
      const rounds = ([[0, 6], [1, 8], [2, 10]] as const).map(([round, n]) => {
        const c = batchSite();
        const pickups = Array.from({ length: n }, () => offset(c, (rand() - 0.5) * 2_400, (rand() - 0.5) * 2_400));
        const spots = Array.from({ length: n }, () => offset(c, (rand() - 0.5) * 3_000, (rand() - 0.5) * 3_000));
        return { round, n, pickups, spots };
      });
      for (const { round, spots } of rounds) for (const [j, at] of spots.entries()) await driverAt(w, `rb${round}-d${j}`, at);
      // Each round is a batch area of its own (sites are ~55 km apart): all three wait out one window together.
      const answered = await Promise.all(rounds.map(({ round, pickups }) =>
        Promise.all(pickups.map((pickup, i) => w.api.match({ orderId: `o-rb${round}-${i}`, pickup, radiusM: 6_000, mode: 'batch' })))));
      for (const [k, { n, pickups, spots }] of rounds.entries()) {
        const answers = answered[k]!;
        for (const r of answers) expect(r.json).toMatchObject({ state: 'offered', attempt: 1 });
        const assigned = answers.map((r) => Number(String(r.json.driverId).split('-d')[1]));
        expect(new Set(assigned).size).toBe(n);

        const cost = costMatrix(pickups, spots);
        answers.forEach((r, i) => expect(r.json.etaS).toBe(cost[i * n + assigned[i]!]));
        const batchTotal = answers.reduce((s, r) => s + r.json.etaS, 0);
        const greedyTotal = totalCost(cost, n, greedyAssignment(cost, n, n));
        const optimum = totalCost(cost, n, solveAssignment(cost, n, n));
        expect(batchTotal).toBe(optimum);
        expect(batchTotal).toBeLessThanOrEqual(greedyTotal);
        report.push(`${n}×${n}: batch ${batchTotal} s vs greedy ${greedyTotal} s (${(100 * (1 - batchTotal / greedyTotal)).toFixed(1)} % less)`);
      }
      console.info(`[batch] random: ${report.join('; ')}`);
    });
  });

  describe('a busy area: the free driver is behind many reserved ones', () => {
    const cases: { name: string; env: Record<string, string>; drivers: number }[] = [
      { name: 'HEXFLEET_MATCH_CANDIDATES=2, 8 drivers', env: { HEXFLEET_MATCH_CANDIDATES: '2' }, drivers: 8 },
      { name: 'the default 10 candidates, 34 drivers', env: {}, drivers: 34 },
    ];
    it.each(cases)('$name: as many orders as drivers, one after another, each is offered a driver', async ({ env, drivers: n }) => {
      const w = await world(kind, { ...NO_EXPIRY_ENV, ...env });
      const site = nextSite();
      for (let i = 0; i < n; i++) await driverAt(w, `hub-${n}-${i}`, offset(site, 50 + i * 40));
      const answers: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await w.api.match({ orderId: `o-hub-${n}-${i}`, pickup: site });
        answers.push(r.status === 200 ? r.json.driverId : `${r.status} ${r.json.code}`);
      }
      // Drivers are taken nearest first; the last order gets the farthest, still well inside the radius.
      expect(answers).toEqual(Array.from({ length: n }, (_, i) => `hub-${n}-${i}`));
      const last = await w.api.match({ orderId: `o-hub-${n}-extra`, pickup: site });
      expect(last.status).toBe(404);
    });
  });
});
