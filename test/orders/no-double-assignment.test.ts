import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Point } from '../../src/orders/order.js';
import { driverToken, HolderTracker, MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { runDoubleAssignmentScenario } from '../support/dispatch-double-assignment.js';
import { closeAllClients, stopAllGateways, TestGateway } from '../support/gateway-harness.js';

/**
 * Hundreds of concurrent matches over a handful of drivers on the memory
 * store: no driver is ever in two open assignments. Checked live (every
 * offer event against the driver's current holder) and from the store after
 * each step (see runDoubleAssignmentScenario).
 */

const SITE: Point = { lat: 48.137, lng: 11.575 };

afterEach(closeAllClients);
afterAll(stopAllGateways);

describe('no double assignment (memory store)', () => {
  it('300 concurrent matches over 5 drivers, twice, with rejections, an acceptance and a cancellation in between', async () => {
    const tg = await TestGateway.start({
      // Offers never expire during the test, and the pool never refuses: every order really competes.
      HEXFLEET_OFFER_TIMEOUT_MS: '600000',
      HEXFLEET_DISPATCH_MAX_QUEUE: '100000',
    });
    const live = new HolderTracker([tg.gateway.dispatch.events]);
    const drivers: OfferDriver[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `nd-${i}`;
      const d = new OfferDriver(id, await tg.connect({ queryToken: await driverToken(tg.tokens, id) }));
      await d.ping(offset(SITE, i * 150 - 300, 200));
      drivers.push(d);
    }
    await runDoubleAssignmentScenario({
      apis: [new MatchApi(tg.port, await tg.serviceToken())],
      drivers,
      orders: tg.gateway.dispatch.orders,
      site: SITE,
      ordersPerRound: 300,
    });
    live.stop();
    expect(live.violations).toEqual([]);
  }, 180_000);
});
