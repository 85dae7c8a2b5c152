import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, UpgradeRefused } from '../support/raw-driver-client.js';
import { waitFor } from '../support/wait-for.js';

const BURST = 4;
/** Short enough to wait out in a test, long enough that the two requests right after the burst fall inside it on a busy machine. */
const COOLOFF_MS = 5000;

async function upgradeStatus(url: string, token: string): Promise<number> {
  try {
    const c = await RawDriverClient.open(url, { queryToken: token });
    await c.terminate();
    return 101;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status;
    throw err;
  }
}

/**
 * Repeated failed authentications from one address: a burst raises the
 * metric and an audit event, the address is refused (429 auth_cooloff) on
 * HTTP and on the WebSocket upgrade — even with a valid token — and is let
 * in again once the cool-off is over.
 */
describe('failed-authentication bursts and the cool-off', () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'hexfleet-cooloff-'));
  const file = join(dir, 'audit.log');
  const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  beforeAll(async () => {
    gw = await startTestGateway('memory', {
      env: {
        HEXFLEET_AUDIT_LOG: file,
        HEXFLEET_AUTH_FAILURE_BURST: String(BURST),
        HEXFLEET_AUTH_FAILURE_WINDOW_MS: '60000',
        HEXFLEET_AUTH_COOLOFF_MS: String(COOLOFF_MS),
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the address after a burst, on HTTP and upgrades, then lets it in again', async () => {
    const valid = await gw.serviceToken();
    const driverToken = await gw.token('driver', 'drv-cool');
    // Requests without a token guess nothing: audited, never counted towards a burst.
    for (let i = 0; i < 2 * BURST; i++) expect((await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1')).status).toBe(401);
    for (let i = 0; i < BURST - 1; i++) expect((await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: 'x.y.z' })).status).toBe(401);
    // Not yet a burst: a valid token still works.
    expect((await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: valid })).status).toBe(200);
    expect(await gw.metric('hexfleet_auth_failure_bursts_total', { by: 'address' })).toBe(0);

    // The failure that completes the burst is a refused upgrade: both paths count.
    expect(await upgradeStatus(gw.driverUrl, 'x.y.z')).toBe(401);
    const refusedAt = Date.now();
    expect(await gw.metric('hexfleet_auth_failure_bursts_total', { by: 'address' })).toBe(1);

    const http = await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: valid });
    const ws = await upgradeStatus(gw.driverUrl, driverToken);
    expect(Date.now() - refusedAt, 'both asked within the cool-off').toBeLessThan(COOLOFF_MS);
    expect(http.status).toBe(429);
    expect(http.json.code).toBe('auth_cooloff');
    expect(Number(http.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(ws).toBe(429);
    expect(await gw.metric('hexfleet_auth_cooloff_refusals_total', { endpoint: 'http' })).toBeGreaterThanOrEqual(1);

    const burst = lines().filter((l) => l.event.action === 'auth.failure_burst');
    expect(burst).toHaveLength(1);
    expect(burst[0]).toMatchObject({ event: { outcome: 'success', reason: 'cooloff' }, target: { type: 'address' }, hexfleet: { failures: BURST }, url: { path: '/v1/driver' } });
    expect(burst[0].target.id).toMatch(/127\.0\.0\.1/);
    // Refusals are counted, not written one line each: a refused flood cannot fill the trail.
    const rejectedBefore = lines().filter((l) => l.event.action === 'auth.rejected').length;
    expect(rejectedBefore).toBe(3 * BURST);

    // Recovery: once the cool-off is over, the same address is served again.
    await waitFor(async () => (await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: valid })).status === 200,
      { what: 'the cool-off to end', timeoutMs: COOLOFF_MS + 20_000, intervalMs: 200 });
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(COOLOFF_MS - 50);
    expect(await upgradeStatus(gw.driverUrl, driverToken)).toBe(101);
    expect(await gw.metric('hexfleet_auth_cooloff_addresses')).toBe(0);
  });

  it('reports a burst for one subject without refusing anyone for it', async () => {
    const expired = await gw.tokens.sign({ role: 'driver', sub: 'drv-target', ttlS: 1 });
    await waitFor(async () => (await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: expired })).status === 401,
      { what: 'the token to expire', intervalMs: 250, timeoutMs: 10_000 });
    // waitFor may have sent several; top up to a burst for the subject (the address's burst comes with it, on the same requests).
    await waitFor(async () => {
      await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: expired });
      return lines().some((l) => l.event.action === 'auth.failure_burst' && l.target.type === 'subject');
    }, { what: 'a subject burst', intervalMs: 10 });
    const subject = lines().find((l) => l.event.action === 'auth.failure_burst' && l.target.type === 'subject');
    expect(subject).toMatchObject({ event: { reason: 'reported' }, target: { id: 'drv-target' } });
    expect(subject.hexfleet.cooloff_until).toBeUndefined();
    expect(await gw.metric('hexfleet_auth_failure_bursts_total', { by: 'subject' })).toBeGreaterThanOrEqual(1);
  });
});
