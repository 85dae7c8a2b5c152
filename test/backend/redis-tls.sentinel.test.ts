import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SentinelGroup } from '../../kit/redis-sentinel.js';
import { TestCa } from '../../kit/test-certs.js';
import { hostPorts } from '../../src/config/load-config.js';
import { type BackendTarget, sentinelTarget } from '../support/backends.js';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, uniqueDriverId } from '../support/gateway-harness.js';

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
  return {
    ...plain,
    env: {
      ...plain.env,
      HEXFLEET_REDIS_TLS: 'true',
      HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile,
      HEXFLEET_REDIS_TLS_CERT_FILE: client.certFile,
      HEXFLEET_REDIS_TLS_KEY_FILE: client.keyFile,
    },
    admin: () => {
      const r = new Redis({ sentinels: hostPorts(group.sentinels), name: group.name, maxRetriesPerRequest: 1, ...group.clientTls(), sentinelTLS: group.clientTls().tls, enableTLSForSentinelMode: true });
      r.on('error', () => {});
      return r;
    },
  };
}

describe('TLS to Redis Sentinel', () => {
  it('a gateway on the Sentinel engine finds the primary and ingests and matches over TLS', async () => {
    const g = await startTestGateway('sentinel', { target: tlsTarget() });
    const at = { lat: 50.11, lng: 8.68 };
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

  it('Sentinels and nodes refuse a plaintext client', async () => {
    const ports = [...group.sentinelPorts, ...group.nodes.map((n) => n.port)];
    for (const port of ports) {
      const plain = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      plain.on('error', () => {});
      const answer = await plain.connect().then(() => plain.ping(), (err: Error) => `error: ${err.message}`).catch((err: Error) => `error: ${err.message}`);
      plain.disconnect();
      expect(answer, `port ${port}`).toMatch(/^error: /);
    }
  });
});
