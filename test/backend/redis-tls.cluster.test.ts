import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { TestCa } from '../../kit/test-certs.js';
import { type BackendTarget, clusterTarget } from '../support/backends.js';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, uniqueDriverId } from '../support/gateway-harness.js';

/**
 * TLS to a Redis Cluster (issue 11): 3 primaries + 3 replicas listening on
 * TLS only, with the cluster bus and replication over TLS and client
 * certificates required. A gateway on the Cluster engine with
 * HEXFLEET_REDIS_TLS=true ingests and matches across shards.
 */

const ca = TestCa.create('redis-cluster');
const client = ca.issue('hexfleet-client', { client: true });
let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await RedisCluster.start({ tls: { caFile: ca.caFile, ...ca.issue('redis-node'), client } });
}, 120_000);
afterEach(stopAllGateways);
afterAll(async () => {
  await cluster?.stop();
  ca.cleanup();
});

function tlsTarget(): BackendTarget {
  const plain = clusterTarget(cluster);
  return {
    ...plain,
    env: {
      ...plain.env,
      HEXFLEET_REDIS_TLS: 'true',
      HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile,
      HEXFLEET_REDIS_TLS_CERT_FILE: client.certFile,
      HEXFLEET_REDIS_TLS_KEY_FILE: client.keyFile,
    },
  };
}

describe('TLS to Redis Cluster', () => {
  it('a gateway on the Cluster engine ingests and matches over TLS', async () => {
    const g = await startTestGateway('cluster', { target: tlsTarget() });
    const at = { lat: 48.14, lng: 11.58 };
    const driverId = uniqueDriverId();
    const driver = await OfferDriver.open(g.driverUrl, g.tokens, driverId);
    try {
      await driver.ping(at);
      const orderId = `o-${randomUUID().slice(0, 8)}`;
      const match = await new MatchApi(g.port, await g.serviceToken()).match({ orderId, pickup: offset(at, 100) });
      expect(match.json?.driverId, match.text).toBe(driverId);
      expect((await driver.answerOffer(orderId, true)).state).toBe('accepted');
      expect((await g.get('/readyz')).status).toBe(200);
    } finally {
      await driver.terminate();
    }
  });

  it('every node refuses a plaintext client', async () => {
    const { Redis } = await import('ioredis');
    for (const n of cluster.nodes) {
      const plain = new Redis(`redis://127.0.0.1:${n.port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      plain.on('error', () => {});
      const answer = await plain.connect().then(() => plain.ping(), (err: Error) => `error: ${err.message}`).catch((err: Error) => `error: ${err.message}`);
      plain.disconnect();
      expect(answer).toMatch(/^error: /);
    }
  });
});
