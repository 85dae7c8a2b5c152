import { describe, expect, it } from 'vitest';
import { metricSum, scrapeMetrics } from '../../kit/metrics-scrape.js';
import type { OrderStore } from '../../src/orders/order-store.js';
import { openTestBackend, TEST_TIMING } from '../support/backends.js';
import type { Point } from '../../src/orders/order.js';
import { HolderTracker, MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { runDoubleAssignmentScenario } from '../support/dispatch-double-assignment.js';
import { GatewayProcess } from '../support/dispatch-process.js';
import { service, startRedisGateway, tokens, uniquePrefix, waitForReady } from '../support/redis-gateway.js';
import { redisSuite } from '../support/redis-suite.js';

/**
 * The same scenario as no-double-assignment.test.ts on a real Redis, where
 * the reservation is a Lua script: first with one gateway, then with two
 * `hexfleet serve` processes sharing the Redis and the prefix, the requests
 * and the drivers split between them (offers cross over by pub/sub).
 */

const SITE: Point = { lat: 45.464, lng: 9.19 };
const DRIVERS = 5;
const ORDERS = 300;
const ENV = {
  HEXFLEET_OFFER_TIMEOUT_MS: '600000',
  HEXFLEET_DISPATCH_MAX_QUEUE: '100000',
  // Generous: hundreds of scripts queue up on a busy machine, and a timeout here is not what this test is about.
  HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '10000',
};

describe('no double assignment (Redis)', () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  /** The gateways' order store, opened by the test itself under their prefix; deletes the prefix's keys at the end. */
  async function storeOf(prefix: string): Promise<OrderStore> {
    const t = await openTestBackend('redis', { redisUrl: suite.server.url, timing: TEST_TIMING, prefix });
    cleanup.add(() => t.cleanup());
    return t.backend.orders;
  }

  async function onlineDrivers(urls: string[]): Promise<OfferDriver[]> {
    const drivers: OfferDriver[] = [];
    for (let i = 0; i < DRIVERS; i++) {
      const d = await OfferDriver.open(urls[i % urls.length]!, tokens, `rd-${i}`);
      cleanup.add(() => d.terminate());
      await d.ping(offset(SITE, i * 150 - 300, 200));
      drivers.push(d);
    }
    return drivers;
  }

  it(`${ORDERS} concurrent matches over ${DRIVERS} drivers through one gateway`, async () => {
    const prefix = uniquePrefix();
    const orders = await storeOf(prefix);
    const g = await startRedisGateway(cleanup, suite.server.url, prefix, ENV);
    await waitForReady(g.adminPort, 200);
    const live = new HolderTracker([g.gateway.dispatch.events]);
    cleanup.add(() => live.stop());
    const drivers = await onlineDrivers([g.driverUrl]);
    await runDoubleAssignmentScenario({ apis: [new MatchApi(g.port, await service())], drivers, orders, site: SITE, ordersPerRound: ORDERS });
    expect(live.violations).toEqual([]);
  }, 180_000);

  it(`${ORDERS} concurrent matches over ${DRIVERS} drivers through two gateway processes sharing the Redis`, async () => {
    const prefix = uniquePrefix();
    const orders = await storeOf(prefix);
    const env = { ...ENV, REDIS_URL: suite.server.url, HEXFLEET_REDIS_PREFIX: prefix };
    const [a, b] = await Promise.all([GatewayProcess.start(cleanup, env), GatewayProcess.start(cleanup, env)]);
    expect(a.port).not.toBe(b.port);
    const drivers = await onlineDrivers([a.driverUrl, b.driverUrl]);
    const token = await service();
    await runDoubleAssignmentScenario({ apis: [new MatchApi(a.port, token), new MatchApi(b.port, token)], drivers, orders, site: SITE, ordersPerRound: ORDERS });
    // Each process answered its half of both rounds.
    expect(metricSum(await scrapeMetrics(a.adminPort), 'hexfleet_matches_total')).toBe(ORDERS);
    expect(metricSum(await scrapeMetrics(b.adminPort), 'hexfleet_matches_total')).toBe(ORDERS);
    expect(a.running && b.running).toBe(true);
  }, 180_000);
});
