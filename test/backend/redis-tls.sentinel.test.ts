import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { SentinelGroup } from '../../kit/redis-sentinel.js';
import { TestCa } from '../../kit/test-certs.js';
import { hostPorts } from '../../src/config/load-config.js';
import { type BackendTarget, sentinelTarget } from '../support/backends.js';
import { startTestGateway, stopAllGateways } from '../support/gateway-harness.js';
import { expectIngestAndMatch, expectPlaintextRefused, redisTlsEnv } from '../support/redis-tls.js';

/**
 * TLS to a Sentinel deployment (issue 11): a primary, a replica and three
 * Sentinels, all TLS-only with client certificates required, replication
 * and the Sentinels' links over TLS. A gateway on the Sentinel engine with
 * HEXFLEET_REDIS_TLS=true asks the Sentinels over TLS for the primary and
 * ingests and matches on it over TLS.
 */

const ca = TestCa.create('redis-sentinel');
const client = ca.issue('hexfleet-client', { client: true });
let group: SentinelGroup;

beforeAll(async () => {
  group = await SentinelGroup.start({ tls: { caFile: ca.caFile, ...ca.issue('redis-node'), client } });
}, 120_000);
afterEach(stopAllGateways);
afterAll(async () => {
  await group?.stop();
  ca.cleanup();
});

function tlsTarget(): BackendTarget {
  const plain = sentinelTarget(group);
  const { tls } = group.clientTls();
  return {
    ...plain,
    env: { ...plain.env, ...redisTlsEnv(ca, client, true) },
    admin: () => {
      const r = new Redis({ sentinels: hostPorts(group.sentinels), name: group.name, maxRetriesPerRequest: 1, tls, sentinelTLS: tls, enableTLSForSentinelMode: true });
      r.on('error', () => {});
      return r;
    },
  };
}

describe('TLS to Redis Sentinel', () => {
  it('a gateway on the Sentinel engine finds the primary and ingests and matches over TLS', async () => {
    await expectIngestAndMatch(await startTestGateway('sentinel', { target: tlsTarget() }), { lat: 50.11, lng: 8.68 });
  });

  it('Sentinels and nodes refuse a plaintext client', async () => {
    await expectPlaintextRefused([...group.sentinelPorts, ...group.nodes.map((n) => n.port)]);
  });
});
