import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../kit/redis-server.js';
import { TestCa } from '../../kit/test-certs.js';
import type { BackendTarget } from '../support/backends.js';
import { startTestGateway, stopAllGateways } from '../support/gateway-harness.js';
import { expectIngestAndMatch, expectPlaintextRefused, redisTlsEnv } from '../support/redis-tls.js';

/**
 * TLS to Redis (issue 11) against a real redis-server that listens on TLS
 * only (`--port 0 --tls-port …`) and requires client certificates
 * (`--tls-auth-clients yes`): the gateway ingests, publishes and matches over
 * rediss://, and clients without TLS or without a certificate are refused.
 */

const ca = TestCa.create('redis');
const client = ca.issue('hexfleet-client', { client: true });
let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start({ tls: { caFile: ca.caFile, ...ca.issue('redis-server'), client } });
});
afterEach(stopAllGateways);
afterAll(async () => {
  await server?.stop();
  ca.cleanup();
});

/** The TLS-only server as a gateway reaches it: a rediss:// URL, the CA and the client certificate. */
function tlsTarget(): BackendTarget {
  return {
    env: { HEXFLEET_STORE: 'redis', REDIS_URL: server.url, ...redisTlsEnv(ca, client, false) },
    config: { store: 'redis', redisUrl: server.url },
    admin: () => {
      const r = new Redis(server.url, { tls: server.clientTls, maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      return r;
    },
  };
}

/** Connects and PINGs once; resolves with the reply or the error message. */
async function tryPing(r: Redis): Promise<string> {
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.ping();
  } catch (err) {
    return `error: ${(err as Error).message}`;
  } finally {
    r.disconnect();
  }
}

describe('TLS to Redis (rediss://)', () => {
  it('the gateway ingests and matches over rediss:// with a client certificate', async () => {
    expect(server.url).toMatch(/^rediss:\/\//);
    const g = await startTestGateway('redis', { target: tlsTarget() });
    await expectIngestAndMatch(g, { lat: 52.5, lng: 13.4 });
    // The records are in the TLS-only server: nothing else could have stored them.
    const admin = tlsTarget().admin() as Redis;
    try {
      expect((await admin.keys(`${g.prefix}:*`)).length).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
  });

  it('refuses a plaintext client and a TLS client without a certificate', async () => {
    await expectPlaintextRefused([server.port]);
    const noCert = await tryPing(new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, tls: { ca: ca.caPem } }));
    expect(noCert).toMatch(/^error: /);
    const withCert = await tryPing(new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, tls: server.clientTls }));
    expect(withCert).toBe('PONG');
  });

  it('a gateway that does not trust the server\'s CA never becomes ready', async () => {
    const other = TestCa.create('untrusted');
    try {
      const target = tlsTarget();
      target.env.HEXFLEET_REDIS_TLS_CA_FILE = other.caFile;
      const g = await startTestGateway('redis', { target, waitReady: false, prefix: `t${randomUUID().slice(0, 8)}` });
      const ready = await g.get('/readyz');
      expect(ready.status).toBe(503);
    } finally {
      other.cleanup();
    }
  });
});
