import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '../../src/backend/backend.js';
import type { Point } from '../../src/orders/order.js';
import { driverToken, MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { BackendHosts, deleteKeysAt, TEST_BACKENDS, uniquePrefix } from '../support/backends.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Candidate search skips the drivers a gateway knows are reserved (issue 10):
 * a busy area full of reserved drivers used to cost one refused commit per
 * reserved driver before the free one further away got the offer. Counted
 * by hexfleet_offers_total{outcome="refused"}, which a refused reservation
 * increments. On every backend, with the reservations made on the gateway
 * that matches and, on the shared engines, on another gateway (the hint
 * then comes over the assignment bus).
 */

const hosts = new BackendHosts();
afterAll(() => hosts.stop());
afterEach(stopAllGateways);

/** No offer expires while a case looks at it. */
const ENV = { HEXFLEET_OFFER_TIMEOUT_MS: '600000' };
/** More reserved drivers than the candidates a match ranks (10 by default): without the hint the free one is not even among them. */
const RESERVED = 12;

let siteCount = 0;
function nextSite(): Point {
  siteCount++;
  return { lat: -50 + siteCount * 0.7, lng: 20.1 };
}

async function driverAt(tg: TestGateway, driverId: string, at: Point): Promise<OfferDriver> {
  const client = await tg.connect({ queryToken: await driverToken(tg.tokens, driverId) });
  const d = new OfferDriver(driverId, client);
  await d.ping(at);
  return d;
}

const refused = (tg: TestGateway): Promise<number> => tg.metric('hexfleet_offers_total', { outcome: 'refused' });

describe.each(TEST_BACKENDS)('on the %s backend', (kind: BackendKind) => {
  const cases = kind === 'memory' ? ['the same gateway'] : ['the same gateway', 'another gateway'];
  it.each(cases)('reservations made on %s: the match offers the free driver beyond them with no refused reservation', async (where) => {
    const target = kind === 'memory' ? undefined : await hosts.target(kind);
    // Two gateways of one deployment share a prefix (whose keys this case deletes); one alone gets its own.
    const shared = where === 'another gateway' ? uniquePrefix() : undefined;
    const a = await startTestGateway(kind, { ...(target ? { target } : {}), ...(shared ? { prefix: shared } : {}), env: ENV });
    const b = shared ? await startTestGateway(kind, { target: target!, prefix: shared, env: ENV }) : a;
    try {
      const site = nextSite();
      // A ring of drivers 50-160 m from the pickup, all reserved by orders matched at their own positions, and one free 1.5 km away.
      const near = await Promise.all(Array.from({ length: RESERVED }, (_, i) => driverAt(a, `rs-near-${siteCount}-${i}`, offset(site, 50 + 10 * i, i % 2 ? 30 : -30))));
      const far = await driverAt(a, `rs-far-${siteCount}`, offset(site, 1500));
      const apiA = new MatchApi(a.port, await a.serviceToken());
      for (const [i, d] of near.entries()) {
        const r = await apiA.match({ orderId: `rs-hold-${siteCount}-${i}`, pickup: offset(site, 50 + 10 * i, i % 2 ? 30 : -30), radiusM: 20 });
        expect(r.json).toMatchObject({ state: 'offered', driverId: d.driverId });
      }
      // The matching gateway has heard of every reservation (its own, or over the bus).
      await waitFor(async () => (await b.metric('hexfleet_reserved_drivers_known')) >= RESERVED, { what: 'the reservations to reach the matching gateway' });
      const before = await refused(b);
      const apiB = b === a ? apiA : new MatchApi(b.port, await b.serviceToken());
      const r = await apiB.match({ orderId: `rs-busy-${siteCount}`, pickup: site, radiusM: 3000 });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ state: 'offered', driverId: far.driverId, attempt: 1 });
      expect(await refused(b)).toBe(before);
      const history = await apiB.history(`rs-busy-${siteCount}`);
      expect(history.history.map((h: { event: string }) => h.event)).toEqual(['offered']);
    } finally {
      if (b !== a) await b.stop();
      await a.stop();
      if (shared) await deleteKeysAt(target!, shared);
    }
  });

  it('a stale hint never makes a no_driver: a driver it wrongly holds is offered once every other candidate was refused', async () => {
    const target = kind === 'memory' ? undefined : await hosts.target(kind);
    const tg = await startTestGateway(kind, { ...(target ? { target } : {}), env: ENV });
    const site = nextSite();
    // `held` is reserved for real, by a commit that announces nothing (the hint never hears of it);
    // `ghost` is free, but an offer whose release got lost (an event of a dropped subscription) holds it in the hint.
    const held = await driverAt(tg, `rs-held-${siteCount}`, offset(site, 50));
    const ghost = await driverAt(tg, `rs-ghost-${siteCount}`, offset(site, 400));
    const { orders, assignments } = tg.gateway.backend;
    const now = Date.now();
    const holder = {
      orderId: `rs-holder-${siteCount}`, state: 'offered' as const, request: { orderId: `rs-holder-${siteCount}`, pickup: site, radiusM: 100, mode: 'immediate' as const },
      requestHash: 'x', attempt: 1, driverId: held.driverId, tried: [held.driverId], history: [], createdAt: now, updatedAt: now, version: 0,
    };
    expect(await orders.commit(holder, 0, { reserve: { driverId: held.driverId, leaseMs: 600_000, staleMs: 30_000 }, deadline: null }, now)).toMatchObject({ ok: true });
    assignments.publish({ type: 'assignment.offered', orderId: 'rs-lost', state: 'offered', attempt: 1, at: now, driverId: ghost.driverId });
    await waitFor(async () => (await tg.metric('hexfleet_reserved_drivers_known')) >= 1, { what: 'the hint to hold the ghost' });
    const before = await refused(tg);
    const api = new MatchApi(tg.port, await tg.serviceToken());
    const r = await api.match({ orderId: `rs-stale-${siteCount}`, pickup: site, radiusM: 3000 });
    expect(r.json).toMatchObject({ state: 'offered', driverId: ghost.driverId });
    // The one refusal: the reservation the hint did not know of.
    expect(await refused(tg)).toBe(before + 1);
  });
});
