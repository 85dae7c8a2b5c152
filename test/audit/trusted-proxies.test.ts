import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load-config.js';
import { BASE_ENV, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { waitFor } from '../support/wait-for.js';

/** The HTTP status a WebSocket upgrade is answered with (101: opened, then closed again). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

/** HEXFLEET_TRUSTED_PROXIES: behind a balancer, the client is the address its X-Forwarded-For names — for the trail and the cool-off. */
describe('trusted proxies', () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'hexfleet-proxy-'));
  const file = join(dir, 'audit.log');
  const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const from = (xff: string, token?: string) =>
    httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { headers: { 'x-forwarded-for': xff }, ...(token ? { token } : {}) });

  beforeAll(async () => {
    gw = await startTestGateway('memory', {
      env: { HEXFLEET_AUDIT_LOG: file, HEXFLEET_TRUSTED_PROXIES: '127.0.0.1', HEXFLEET_AUTH_FAILURE_BURST: '3', HEXFLEET_AUTH_COOLOFF_MS: '600000' },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the last X-Forwarded-For address of a trusted peer, and cools off that client only', async () => {
    const valid = await gw.serviceToken();
    for (let i = 0; i < 3; i++) expect((await from('6.6.6.6, 10.9.8.7', 'x.y.z')).status).toBe(401);
    await waitFor(() => lines().some((l) => l.event.action === 'auth.failure_burst'), { what: 'the burst' });
    const rejected = lines().filter((l) => l.event.action === 'auth.rejected');
    expect(rejected.map((l) => l.source.ip)).toEqual(['10.9.8.7', '10.9.8.7', '10.9.8.7']);
    expect(lines().find((l) => l.event.action === 'auth.failure_burst').target).toEqual({ type: 'address', id: '10.9.8.7' });

    // The client the balancer saw is refused, even when it writes another address in front; its neighbours are not.
    expect((await from('10.9.8.7', valid)).status).toBe(429);
    expect((await from('1.2.3.4, 10.9.8.7', valid)).status).toBe(429);
    expect((await from('10.9.8.8', valid)).status).toBe(200);
    expect(await upgradeStatus(`${gw.driverUrl}?token=${await gw.token('driver', 'drv-px')}`, { 'x-forwarded-for': '10.9.8.7' })).toBe(429);
    expect(await upgradeStatus(`${gw.driverUrl}?token=${await gw.token('driver', 'drv-px')}`, { 'x-forwarded-for': '10.9.8.9' })).toBe(101);
    // A header that is not an address leaves the peer.
    expect((await from('not-an-address', valid)).status).toBe(200);
  });

  it('refuses a value that is not a list of addresses, naming the variable', () => {
    expect(() => loadConfig({ ...BASE_ENV, HEXFLEET_TRUSTED_PROXIES: '10.0.0.1, lb.internal' })).toThrow(/HEXFLEET_TRUSTED_PROXIES must be a comma-separated list of IP addresses/);
    expect(loadConfig({ ...BASE_ENV, HEXFLEET_TRUSTED_PROXIES: '10.0.0.1, ::1' }).trustedProxies).toBe('10.0.0.1, ::1');
  });
});
