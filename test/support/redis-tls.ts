import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { IssuedCert, TestCa } from '../../kit/test-certs.js';
import { MatchApi, OfferDriver, offset } from './dispatch-client.js';
import { type TestGateway, uniqueDriverId } from './gateway-harness.js';

/**
 * What the TLS-to-Redis tests of every engine share
 * (test/backend/redis-tls.{redis,sentinel,cluster}.test.ts).
 */

/** The variables of a gateway trusting `ca` and showing `client` (Sentinel and Cluster also set HEXFLEET_REDIS_TLS). */
export function redisTlsEnv(ca: TestCa, client: IssuedCert, redisTlsFlag: boolean): Record<string, string> {
  return {
    ...(redisTlsFlag ? { HEXFLEET_REDIS_TLS: 'true' } : {}),
    HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile,
    HEXFLEET_REDIS_TLS_CERT_FILE: client.certFile,
    HEXFLEET_REDIS_TLS_KEY_FILE: client.keyFile,
  };
}

/** A driver pings at `at`, an order next to it is matched to it, the driver accepts, and the gateway is ready: all over TLS. */
export async function expectIngestAndMatch(g: TestGateway, at: { lat: number; lng: number }): Promise<void> {
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
}

/** Every port refuses a plaintext client (no PONG). */
export async function expectPlaintextRefused(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const plain = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    plain.on('error', () => {});
    const answer = await plain.connect().then(() => plain.ping()).catch((err: Error) => `error: ${err.message}`);
    plain.disconnect();
    expect(answer, `port ${port}`).toMatch(/^error: /);
  }
}
