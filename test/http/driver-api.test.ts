import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, parseMetrics } from '../../kit/metrics-scrape.js';
import {
  closeAllClients,
  ping,
  stopAllGateways,
  TEST_JWT_SECRET,
  TestGateway,
  uniqueDriverId,
} from '../support/gateway-harness.js';

/**
 * The HTTP API (/v1/drivers, health, metrics) of a real gateway on the
 * embedded memory store, with real requests. Drivers are placed
 * through the real driver stream.
 */

afterEach(closeAllClients);
afterAll(stopAllGateways);

let gw: TestGateway;
let service: string;
beforeAll(async () => {
  gw = await TestGateway.start();
  service = await gw.serviceToken();
});

/** Metres per degree of latitude on the sphere hexfleet measures on (R = 6 371 008.8 m). */
const M_PER_DEG_LAT = (6_371_008.8 * Math.PI) / 180;

/** Places one driver (through the driver stream) and waits for its ack. */
async function place(driverId: string, lat: number, lng: number, over: Record<string, unknown> = {}): Promise<void> {
  const client = await gw.connectDriver(driverId);
  client.sendPings([ping(1, { lat, lng, ...over })]);
  await client.waitForAck(1);
}

describe('GET /v1/drivers/:id', () => {
  it('returns the last-known record of a driver', async () => {
    const id = uniqueDriverId();
    const ts = Date.now();
    await place(id, 48.1372, 11.5756, { ts, status: 'busy', acc: 5 });
    const res = await gw.get(`/v1/drivers/${id}`, service);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('application/json');
    expect(res.json).toMatchObject({ driverId: id, lat: 48.1372, lng: 11.5756, ts, seq: 1, status: 'busy', acc: 5, stale: false, indexed: true });
    expect(res.json.cell).toMatch(/^[0-9a-f]{15}$/);
    expect(res.json.ageMs).toBeGreaterThanOrEqual(0);
  });

  it('serves a driver whose feed dropped as a stale last-known position', async () => {
    const id = uniqueDriverId();
    const ts = Date.now() - 5 * 60_000;
    await place(id, 48.2, 11.6, { ts });
    const res = await gw.get(`/v1/drivers/${id}`, service);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ driverId: id, ts, stale: true });
    expect(res.json.ageMs).toBeGreaterThanOrEqual(5 * 60_000);
  });

  it('answers 404 with {code, message} for an unknown driver', async () => {
    const res = await gw.get(`/v1/drivers/${uniqueDriverId('nobody')}`, service);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ code: 'not_found', message: expect.stringContaining('nobody') });
  });

  it('accepts an admin token and a ?token= query parameter', async () => {
    const id = uniqueDriverId();
    await place(id, 48.3, 11.7);
    const admin = await gw.token('admin', 'ops');
    expect((await gw.get(`/v1/drivers/${id}`, admin)).status).toBe(200);
    expect((await gw.get(`/v1/drivers/${id}?token=${service}`)).status).toBe(200);
  });
});

describe('GET /v1/drivers/nearby', () => {
  it('returns drivers within the radius, nearest first, with distanceM and ageMs', async () => {
    const [lat, lng] = [45.4642, 9.19];
    // North of the centre at known distances; one outside the 1 km radius.
    const placed = [
      { id: uniqueDriverId('mid'), dM: 450 },
      { id: uniqueDriverId('near'), dM: 120 },
      { id: uniqueDriverId('far'), dM: 900 },
      { id: uniqueDriverId('out'), dM: 1500 },
    ];
    for (const p of placed) await place(p.id, Number((lat + p.dM / M_PER_DEG_LAT).toFixed(7)), lng);

    const res = await gw.get(`/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=1000&limit=10`, service);
    expect(res.status).toBe(200);
    const drivers = res.json.drivers as { driverId: string; distanceM: number; ageMs: number; stale: boolean }[];
    expect(drivers.map((d) => d.driverId)).toEqual([placed[1]!.id, placed[0]!.id, placed[2]!.id]);
    for (const [i, dM] of [120, 450, 900].entries()) expect(drivers[i]!.distanceM).toBeCloseTo(dM, 0);
    for (const d of drivers) {
      expect(d.ageMs).toBeGreaterThanOrEqual(0);
      expect(d.stale).toBe(false);
    }

    const limited = await gw.get(`/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=1000&limit=2`, service);
    expect(limited.json.drivers.map((d: { driverId: string }) => d.driverId)).toEqual([placed[1]!.id, placed[0]!.id]);
  });

  it('leaves stale drivers out unless includeStale=true, and filters by status', async () => {
    const [lat, lng] = [41.3874, 2.1686];
    const fresh = uniqueDriverId('fresh');
    const stale = uniqueDriverId('stale');
    const busy = uniqueDriverId('busy');
    await place(fresh, lat + 0.001, lng, { status: 'available' });
    await place(stale, lat + 0.002, lng, { ts: Date.now() - 10 * 60_000, status: 'available' });
    await place(busy, lat + 0.003, lng, { status: 'busy' });

    const ids = async (query: string) => {
      const res = await gw.get(`/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=2000${query}`, service);
      expect(res.status).toBe(200);
      return (res.json.drivers as { driverId: string }[]).map((d) => d.driverId);
    };
    expect(await ids('')).toEqual([fresh, busy]);
    expect(await ids('&includeStale=false')).toEqual([fresh, busy]);
    expect(await ids('&includeStale=true')).toEqual([fresh, stale, busy]);
    expect(await ids('&status=busy')).toEqual([busy]);
    expect(await ids('&status=available&includeStale=true')).toEqual([fresh, stale]);
    expect(await ids('&status=offline')).toEqual([]);
  });

  it('defaults radius and limit', async () => {
    const res = await gw.get('/v1/drivers/nearby?lat=-33.8688&lng=151.2093', service);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ drivers: [] });
  });

  const base = { lat: '52.52', lng: '13.405', radius: '500', limit: '5' };
  const badParameters: { name: string; override: Record<string, string | null> }[] = [
    { name: 'lat', override: { lat: null } },
    { name: 'lat', override: { lat: '' } },
    { name: 'lat', override: { lat: 'north' } },
    { name: 'lat', override: { lat: '90.5' } },
    { name: 'lat', override: { lat: '-91' } },
    { name: 'lat', override: { lat: 'NaN' } },
    { name: 'lng', override: { lng: null } },
    { name: 'lng', override: { lng: '180.1' } },
    { name: 'lng', override: { lng: 'Infinity' } },
    { name: 'radius', override: { radius: '-1' } },
    { name: 'radius', override: { radius: 'wide' } },
    { name: 'radius', override: { radius: '20001' } },
    { name: 'limit', override: { limit: '0' } },
    { name: 'limit', override: { limit: '2.5' } },
    { name: 'limit', override: { limit: '501' } },
    { name: 'limit', override: { limit: 'all' } },
    { name: 'includeStale', override: { includeStale: 'yes' } },
    { name: 'includeStale', override: { includeStale: '' } },
    { name: 'status', override: { status: 'asleep' } },
    { name: 'status', override: { status: '' } },
  ];

  it.each(badParameters)('answers 400 invalid_parameter naming $name for %j', async ({ name, override }) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...base, ...override })) if (v !== null) q.set(k, v);
    const res = await gw.get(`/v1/drivers/nearby?${q}`, service);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: 'invalid_parameter', message: expect.any(String) });
    expect(res.json.message.startsWith(`${name} `)).toBe(true);
  });
});

describe('authorization of /v1/drivers', () => {
  const paths = ['/v1/drivers/some-driver', '/v1/drivers/nearby?lat=52.52&lng=13.405'];

  it.each(paths)('answers 401 without a token or with a bad one (%s)', async (path) => {
    const expired = await new SignJWT({ role: 'service' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('svc')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    for (const token of [undefined, 'not.a.jwt', expired]) {
      const res = await gw.get(path, token);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ code: 'unauthorized', message: expect.any(String) });
    }
  });

  it.each(paths)('answers 403 to a driver token (%s)', async (path) => {
    const res = await gw.get(path, await gw.token('driver', 'd1'));
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ code: 'forbidden', message: expect.stringContaining('driver') });
  });
});

describe('health, readiness and metrics', () => {
  it('GET /healthz answers 200', async () => {
    const res = await gw.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('GET /readyz on the admin port answers 200 with the memory store', async () => {
    const res = await gw.adminGet('/readyz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ready', store: 'memory' });
  });

  it('GET /metrics on the admin port is Prometheus text with every hexfleet series', async () => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id);
    client.sendPings([ping(1), ping(2, { lat: 99 })]);
    await client.waitForAck(1);
    await client.waitForError('invalid_lat', 2);
    client.sendPings([ping(1)]);
    await client.waitForReply((r) => r.type === 'ack' && client.replies.filter((x) => x.type === 'ack').length === 2, 'the second ack');

    const res = await gw.adminGet('/metrics');
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain/);
    const text = res.text;
    const scrape = parseMetrics(text);
    const types: [string, string][] = [
      ['hexfleet_pings_received_total', 'counter'],
      ['hexfleet_pings_applied_total', 'counter'],
      ['hexfleet_pings_duplicate_total', 'counter'],
      ['hexfleet_pings_rejected_total', 'counter'],
      ['hexfleet_batch_size_pings', 'histogram'],
      ['hexfleet_batch_apply_seconds', 'histogram'],
      ['hexfleet_driver_connections', 'gauge'],
      ['hexfleet_store_errors_total', 'counter'],
    ];
    for (const [name, type] of types) expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
    expect(metricValue(scrape, 'hexfleet_pings_received_total')).toBeGreaterThanOrEqual(3);
    expect(metricValue(scrape, 'hexfleet_pings_applied_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(scrape, 'hexfleet_pings_duplicate_total')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^hexfleet_pings_rejected_total\{code="invalid_lat"\} [1-9]\d*$/m);
    expect(text).toMatch(/^hexfleet_batch_size_pings_bucket\{le="2"\} [1-9]\d*$/m);
    expect(text).toMatch(/^hexfleet_batch_apply_seconds_count [1-9]\d*$/m);
    expect(metricValue(scrape, 'hexfleet_driver_connections')).toBeGreaterThanOrEqual(1);
  });

  it('answers 404 with {code, message} for an unknown path', async () => {
    for (const path of ['/nope', '/v1/driverz', '/v1']) {
      const res = await gw.get(path);
      expect(res.status, path).toBe(404);
      expect(res.json).toEqual({ code: 'not_found', message: expect.any(String) });
    }
  });
});
