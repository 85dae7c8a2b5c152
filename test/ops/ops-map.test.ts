import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../../kit/gateway-process.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import type { OrderDoc } from '../../src/orders/order.js';
import { opsOrderOf, type OpsSnapshot } from '../../src/ops-map/ops-order-feed.js';
import { stopAllGateways, TEST_JWT_SECRET, TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import type { RawDriverClient } from '../support/raw-driver-client.js';

/**
 * The operations map's server side without a browser: the page and its
 * files, the config it carries, and GET /v1/ops/orders against a real
 * gateway (memory store) with a real driver and a real match. The page
 * itself runs in Chromium in ops-map.browser.test.ts.
 */

const TILE_URL = 'https://tiles.example.com/{z}/{x}/{y}.png';
let gw: TestGateway;
let driver: RawDriverClient | undefined;

beforeAll(async () => {
  gw = await TestGateway.start({ HEXFLEET_OPS_TILE_URL: TILE_URL, HEXFLEET_DEGRADED_MS: '7000', HEXFLEET_OFFER_TIMEOUT_MS: '600000' });
});

afterAll(async () => {
  await driver?.terminate();
  await stopAllGateways();
});

describe('HEXFLEET_OPS_TILE_URL', () => {
  it.each([
    ['ftp://tiles.example.com/{z}/{x}/{y}.png'],
    ['https://tiles.example.com/{z}/{x}.png'],
  ])('refuses %s, naming the variable and what it needs', (url) => {
    expect(() => loadConfig({ HEXFLEET_JWT_SECRET: TEST_JWT_SECRET, HEXFLEET_OPS_TILE_URL: url })).toThrow(ConfigError);
    expect(() => loadConfig({ HEXFLEET_JWT_SECRET: TEST_JWT_SECRET, HEXFLEET_OPS_TILE_URL: url }))
      .toThrow('HEXFLEET_OPS_TILE_URL must be an http:// or https:// URL with {z}, {x} and {y} in it');
  });

  it('defaults to no base map', () => {
    expect(loadConfig({ HEXFLEET_JWT_SECRET: TEST_JWT_SECRET }).opsTileUrl).toBe('');
  });
});

describe('GET /ops and its files', () => {
  it('serves the page with this gateway\'s thresholds and tile URL in it, without a token', async () => {
    const r = await httpRequest(gw.port, 'GET', '/ops');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    const json = /<script id="ops-config" type="application\/json">(.*?)<\/script>/.exec(r.text)?.[1];
    expect(JSON.parse(json!)).toEqual({ degradedMs: 7000, offlineMs: gw.config.offlineMs, tileUrl: TILE_URL, region: '' });
  });

  it.each([
    ['/ops/ops-map.js', 'text/javascript; charset=utf-8'],
    ['/ops/ops-map.css', 'text/css; charset=utf-8'],
    ['/ops/h3-js.es.js', 'text/javascript; charset=utf-8'],
  ])('serves %s', async (path, type) => {
    const r = await httpRequest(gw.port, 'GET', path);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(type);
    expect(r.text.length).toBeGreaterThan(1000);
  });

  it('answers an unknown file with 404 not_found naming the files it serves', async () => {
    const r = await httpRequest(gw.port, 'GET', '/ops/secrets.txt');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ code: 'not_found' });
    expect(r.json.message).toContain('/ops/ops-map.js');
  });
});

describe('hexfleet serve from dist/ (as deployed)', () => {
  it('serves the page and its files: the build copies src/ops-map/assets next to the compiled module', async () => {
    const served = await GatewayProcess.start({ name: 'ops-map-dist', env: { HEXFLEET_STORE: 'memory', HEXFLEET_JWT_SECRET: TEST_JWT_SECRET, HEXFLEET_ADMIN_PORT: '-1' } });
    try {
      for (const path of ['/ops', '/ops/ops-map.js', '/ops/ops-map.css', '/ops/h3-js.es.js']) {
        expect((await httpRequest(served.port, 'GET', path)).status, path).toBe(200);
      }
    } finally {
      await served.stop();
    }
  });
});

describe('GET /v1/ops/orders', () => {
  it('refuses without a token (401), another role (403) and an admin without a second factor (403 mfa_required)', async () => {
    expect((await httpRequest(gw.port, 'GET', '/v1/ops/orders')).json).toMatchObject({ code: 'unauthorized' });
    const service = await httpRequest(gw.port, 'GET', '/v1/ops/orders', { token: await gw.serviceToken() });
    expect(service.status).toBe(403);
    expect(service.json).toMatchObject({ code: 'forbidden' });
    const noMfa = await gw.tokens.sign({ role: 'admin', sub: 'ops', amr: ['pwd'], authTimeS: Math.floor(Date.now() / 1000) });
    expect((await httpRequest(gw.port, 'GET', '/v1/ops/orders', { token: noMfa })).json).toMatchObject({ code: 'mfa_required' });
  });

  it('refuses a since that is not a whole number with 400 invalid_parameter', async () => {
    const r = await httpRequest(gw.port, 'GET', '/v1/ops/orders?since=abc', { token: await gw.token('admin', 'ops') });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'invalid_parameter' });
    expect(r.json.message).toContain('since');
  });

  it('lists an open order with its offered driver and ETA, and the offer once (since)', async () => {
    const admin = await gw.token('admin', 'ops');
    const before = (await httpRequest(gw.port, 'GET', '/v1/ops/orders', { token: admin })).json as OpsSnapshot;
    driver = await gw.connectDriver('ops-d1');
    driver.sendPings([{ seq: 1, lat: 48.8566, lng: 2.3522, ts: Date.now(), status: 'available' }]);
    await driver.waitForAck(1);
    const match = await httpRequest(gw.port, 'POST', '/v1/match', { token: await gw.serviceToken(), body: { orderId: 'ops-o1', pickup: { lat: 48.857, lng: 2.353 } } });
    expect(match.json).toMatchObject({ state: 'offered', driverId: 'ops-d1' });

    const snap = (await httpRequest(gw.port, 'GET', `/v1/ops/orders?since=${before.seq}`, { token: admin })).json as OpsSnapshot;
    const order = snap.orders.find((o) => o.orderId === 'ops-o1');
    expect(order).toMatchObject({ state: 'offered', driverId: 'ops-d1', pickup: { lat: 48.857, lng: 2.353 }, dropoff: null, attempt: 1, etaS: match.json.etaS });
    expect(order!.etaAt).toBeGreaterThan(snap.now - 60_000);
    expect(order!.offerExpiresAt).toBe(match.json.offerExpiresAt);
    expect(snap.events).toEqual([expect.objectContaining({ type: 'offered', orderId: 'ops-o1', driverId: 'ops-d1', state: 'offered', seq: before.seq + 1 })]);

    // Polling on from its seq: the offer is not heard twice.
    const next = (await httpRequest(gw.port, 'GET', `/v1/ops/orders?since=${snap.seq}`, { token: admin })).json as OpsSnapshot;
    expect(next.events).toEqual([]);
    expect(next.orders.map((o) => o.orderId)).toContain('ops-o1');
  });
});

describe('opsOrderOf', () => {
  const base: OrderDoc = {
    orderId: 'o', state: 'accepted', request: { orderId: 'o', pickup: { lat: 1, lng: 2 }, radiusM: 1000, mode: 'immediate' }, requestHash: 'h',
    attempt: 2, driverId: 'd2', fence: 3, etaS: 90, tried: ['d1', 'd2'], createdAt: 0, updatedAt: 0, version: 5,
    history: [
      { at: 1_000, event: 'offered', attempt: 1, driverId: 'd1' },
      { at: 2_000, event: 'rejected', attempt: 1, driverId: 'd1' },
      { at: 3_000, event: 'offered', attempt: 2, driverId: 'd2' },
      { at: 4_000, event: 'accepted', attempt: 2, driverId: 'd2' },
    ],
  };

  it.each([
    ['accepted: its driver, the ETA from the last offer', base, { state: 'accepted', driverId: 'd2', etaS: 90, etaAt: 3_000 + 90_000, offerExpiresAt: null }],
    ['offered: the offer\'s end too', { ...base, state: 'offered', offerExpiresAt: 9_000 } as OrderDoc, { state: 'offered', driverId: 'd2', offerExpiresAt: 9_000 }],
    ['searching: no driver, no ETA', { ...base, state: 'searching', driverId: undefined } as OrderDoc, { state: 'searching', driverId: null, etaS: null, etaAt: null }],
  ])('%s', (_name, doc, want) => {
    expect(opsOrderOf(doc)).toMatchObject(want);
  });

  it.each(['completed', 'cancelled', 'failed'] as const)('leaves out a %s order (closed between the listing and the read)', (state) => {
    expect(opsOrderOf({ ...base, state })).toBeUndefined();
  });
});
