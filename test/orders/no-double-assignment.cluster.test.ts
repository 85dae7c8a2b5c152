import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricSum, scrapeMetrics } from '../../kit/metrics-scrape.js';
import { RedisCluster } from '../../kit/redis-cluster.js';
import type { Point } from '../../src/orders/order.js';
import { clusterTarget, deleteKeysAt, openTestBackend, TEST_TIMING, uniquePrefix } from '../support/backends.js';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { runDoubleAssignmentScenario } from '../support/dispatch-double-assignment.js';
import { GatewayProcess } from '../support/dispatch-process.js';
import { Cleanup, service, tokens } from '../support/redis-gateway.js';

/**
 * The no-double-assignment scenario on Redis Cluster, where reserving is two
 * steps on two shards (the fence and the driver's reservation, then the
 * order): two `hexfleet serve` processes share the cluster and the prefix,
 * and hundreds of concurrent matches race over a few drivers.
 */
const SITE: Point = { lat: 45.464, lng: 9.19 };
const DRIVERS = 5;
const ORDERS = 300;

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('no double assignment (Redis Cluster)', () => {
  it(`${ORDERS} concurrent matches over ${DRIVERS} drivers through two gateway processes sharing the cluster`, async () => {
    const prefix = uniquePrefix();
    const target = clusterTarget(cluster);
    cleanup.add(() => deleteKeysAt(target, prefix));
    const t = await openTestBackend('cluster', { target, timing: TEST_TIMING, prefix });
    cleanup.add(() => t.backend.close());
    const env = {
      ...target.env, HEXFLEET_REDIS_PREFIX: prefix,
      HEXFLEET_OFFER_TIMEOUT_MS: '600000', HEXFLEET_DISPATCH_MAX_QUEUE: '100000', HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '10000',
    };
    const [a, b] = await Promise.all([GatewayProcess.start(cleanup, env), GatewayProcess.start(cleanup, env)]);
    const drivers: OfferDriver[] = [];
    for (let i = 0; i < DRIVERS; i++) {
      const d = await OfferDriver.open([a.driverUrl, b.driverUrl][i % 2]!, tokens, `cd-${i}`);
      cleanup.add(() => d.terminate());
      await d.ping(offset(SITE, i * 150 - 300, 200));
      drivers.push(d);
    }
    const token = await service();
    await runDoubleAssignmentScenario({ apis: [new MatchApi(a.port, token), new MatchApi(b.port, token)], drivers, orders: t.backend.orders, site: SITE, ordersPerRound: ORDERS });
    expect(metricSum(await scrapeMetrics(a.adminPort), 'hexfleet_matches_total')).toBe(ORDERS);
    expect(metricSum(await scrapeMetrics(b.adminPort), 'hexfleet_matches_total')).toBe(ORDERS);
  }, 180_000);
});
