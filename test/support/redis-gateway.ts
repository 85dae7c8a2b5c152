import { Redis } from 'ioredis';
import { TokenService } from '../../src/auth/tokens.js';
import type { DriverRecord } from '../../src/geo/driver-store.js';
import { bucketOf, decodeRecord } from '../../src/backend/redis/redis-layout.js';
import { deleteKeys, uniquePrefix } from './backends.js';
import { httpRequest } from './http-request.js';
import { startTestGateway, TEST_JWT_SECRET, type TestGateway } from './gateway-harness.js';
import { type Encoding, RawDriverClient } from './raw-driver-client.js';
import { waitFor } from './wait-for.js';

export { deleteKeys, uniquePrefix };

/**
 * Gateways against a real Redis, raw WebSocket driver sockets and plain HTTP
 * requests, for the *.redis.test.ts files. Everything a test starts is
 * registered with a `Cleanup`, so a failing test still closes its sockets and
 * gateways and deletes its keys.
 */

/** Signs tokens for every test gateway (the in-process ones and `hexfleet serve` children share the secret). */
export const tokens = new TokenService(TEST_JWT_SECRET);

/** Things to undo after a test, run last-registered first; every step runs even when one fails. */
export class Cleanup {
  private steps: (() => Promise<void> | void)[] = [];

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

/**
 * Starts a gateway in this process on a free port over the Redis at `redisUrl`
 * (which need not be up), with short timeouts and no rate limit in the way,
 * under `prefix` (shared: the caller deletes its keys). The in-process
 * starter of gateway-harness.ts (`startTestGateway`), closed by `cleanup`.
 */
export async function startRedisGateway(
  cleanup: Cleanup,
  redisUrl: string,
  prefix: string,
  env: Record<string, string> = {},
): Promise<TestGateway> {
  const tg = await startTestGateway('redis', {
    redisUrl,
    prefix,
    waitReady: false,
    env: {
      HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '500',
      HEXFLEET_RATE_PINGS_PER_SEC: '100000',
      HEXFLEET_RATE_BURST: '1000000',
      ...env,
    },
  });
  cleanup.add(() => tg.stop());
  return tg;
}

let serviceToken: Promise<string> | undefined;
/** A `service` token for the read API. */
export function service(): Promise<string> {
  serviceToken ??= tokens.sign({ role: 'service', sub: 'tests' });
  return serviceToken;
}

export interface DriverView {
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  seq: number;
  stale: boolean;
  indexed: boolean;
}

/** GET /v1/drivers/:id: the record, or null on 404 (anything else fails). */
export async function getDriver(port: number, driverId: string): Promise<DriverView | null> {
  const r = await httpRequest(port, 'GET', `/v1/drivers/${encodeURIComponent(driverId)}`, { token: await service() });
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET /v1/drivers/${driverId}: ${r.status} ${r.text}`);
  return r.json as DriverView;
}

/** GET /v1/drivers/nearby: the driver ids found (anything but 200 fails). */
export async function nearbyIds(port: number, lat: number, lng: number, radiusM: number, extra = ''): Promise<string[]> {
  const r = await httpRequest(port, 'GET', `/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=${radiusM}&limit=100${extra}`, { token: await service() });
  if (r.status !== 200) throw new Error(`nearby: ${r.status} ${r.text}`);
  return (r.json as { drivers: { driverId: string }[] }).drivers.map((d) => d.driverId);
}

/** A plain connection to the test Redis, for checks and chaos commands; disconnected by `cleanup`. */
export function adminRedis(cleanup: Cleanup, url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 20, retryStrategy: () => 50 });
  redis.on('error', () => {}); // It outlives Redis restarts on purpose.
  cleanup.add(() => redis.disconnect());
  return redis;
}

/**
 * A key prefix no other test uses on the Redis at `url`, for the gateways of
 * one test to share, with an admin connection to it: `cleanup` deletes the
 * prefix's keys, then disconnects.
 */
export function freshPrefix(cleanup: Cleanup, url: string): { prefix: string; admin: Redis } {
  const prefix = uniquePrefix();
  const admin = adminRedis(cleanup, url);
  cleanup.add(() => deleteKeys(admin, prefix));
  return { prefix, admin };
}

/**
 * `count` gateways in this process on one Redis and one key prefix, as
 * behind a load balancer (started one after the other, on different ports),
 * each answering /readyz with 200 and receiving the others' publications.
 */
export async function startSharedGateways(
  cleanup: Cleanup,
  redisUrl: string,
  prefix: string,
  count: number,
  env: Record<string, string> = {},
): Promise<TestGateway[]> {
  const gateways: TestGateway[] = [];
  for (let i = 0; i < count; i++) gateways.push(await startRedisGateway(cleanup, redisUrl, prefix, env));
  await Promise.all(gateways.map((g) => waitForReady(g.adminPort, 200)));
  await Promise.all(gateways.map((g) => g.gateway.backend.subscribed));
  return gateways;
}

/** A raw driver socket to the gateway on `port`, with a fresh token for `driverId`; closed by `cleanup`. */
export async function connectDriver(cleanup: Cleanup, port: number, driverId: string, encoding: Encoding = 'json'): Promise<RawDriverClient> {
  const token = await tokens.sign({ role: 'driver', sub: driverId });
  const client = await RawDriverClient.open(`ws://127.0.0.1:${port}/v1/driver`, { queryToken: token, encoding });
  cleanup.add(() => client.close());
  return client;
}

/** The record of a driver read straight from Redis, bypassing any gateway. */
export async function storedRecord(redis: Redis, prefix: string, driverId: string): Promise<DriverRecord | null> {
  const raw = await redis.hgetBuffer(`${prefix}:v1:r:${bucketOf(driverId)}`, driverId);
  return raw ? decodeRecord(driverId, raw) : null;
}

/** Waits until /readyz on the admin listener at `adminPort` answers `status`; returns its JSON body (with the details). */
export async function waitForReady(adminPort: number, status: 200 | 503): Promise<unknown> {
  let body: unknown;
  await waitFor(
    async () => {
      const r = await httpRequest(adminPort, 'GET', '/readyz');
      body = r.json;
      return r.status === status;
    },
    { what: `/readyz ${status}`, timeoutMs: 30_000 },
  );
  return body;
}
