import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { TestCa } from '../../kit/test-certs.js';
import { type BackendTarget, clusterTarget } from '../support/backends.js';
import { startTestGateway, stopAllGateways } from '../support/gateway-harness.js';
import { expectIngestAndMatch, expectPlaintextRefused, redisTlsEnv } from '../support/redis-tls.js';

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
  return { ...plain, env: { ...plain.env, ...redisTlsEnv(ca, client, true) } };
}

describe('TLS to Redis Cluster', () => {
  it('a gateway on the Cluster engine ingests and matches over TLS', async () => {
    await expectIngestAndMatch(await startTestGateway('cluster', { target: tlsTarget() }), { lat: 48.14, lng: 11.58 });
  });

  it('every node refuses a plaintext client', async () => {
    await expectPlaintextRefused(cluster.nodes.map((n) => n.port));
  });
});
