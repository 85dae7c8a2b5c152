import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { unusedFixedPort } from '../../kit/free-port.js';
import type { RegionEntry, RegionInfo, RegionsAnswer } from '../../src/sdk/index.js';
import { DriverClient } from '../../src/sdk/index.js';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { waitFor } from '../support/wait-for.js';
import { closeAllSdkClients, collectErrors, driverClient, trackingClient } from './sdk-harness.js';

/**
 * Regions through the real interface: gateways standing for regions (each its
 * own memory store, so nothing crosses between them but the clients), every
 * one configured with the same HEXFLEET_REGION_ENDPOINTS, and the SDK given
 * the regional endpoints instead of gateway URLs.
 */

afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
});

/** Fixed ports (a region's endpoint is known before its gateway starts), one per region name. */
async function layout(names: string[]): Promise<{ ports: Record<string, number>; endpoints: string }> {
  const ports: Record<string, number> = {};
  for (const n of names) ports[n] = await unusedFixedPort();
  return { ports, endpoints: names.map((n) => `${n}=http://127.0.0.1:${ports[n]}`).join(',') };
}

function startRegion(name: string, l: { ports: Record<string, number>; endpoints: string }): Promise<TestGateway> {
  return TestGateway.start({
    PORT: String(l.ports[name]),
    HEXFLEET_REGION: name,
    HEXFLEET_REGION_ENDPOINTS: l.endpoints,
    // Probed often so a test sees a loss quickly; the timeout stays generous for a busy machine.
    HEXFLEET_REGION_PROBE_INTERVAL_MS: '200',
    HEXFLEET_REGION_PROBE_TIMEOUT_MS: '1000',
    HEXFLEET_OFFER_TIMEOUT_MS: '600000',
  });
}

async function regionsOf(g: TestGateway): Promise<RegionsAnswer> {
  const r = await httpRequest(g.port, 'GET', '/v1/regions', {});
  expect(r.status).toBe(200);
  return r.json as RegionsAnswer;
}

async function entry(g: TestGateway, name: string): Promise<RegionEntry> {
  const e = (await regionsOf(g)).regions.find((r) => r.name === name);
  expect(e, `region ${name} in the answer of ${g.config.region}`).toBeDefined();
  return e!;
}

/** Every region of `names` reachable and ready as `g` last probed it. */
async function seesHealthy(g: TestGateway, names: string[]): Promise<boolean> {
  const { regions } = await regionsOf(g);
  return names.every((n) => regions.some((r) => r.name === n && r.reachable && r.ready));
}

const north = (p: { lat: number; lng: number }, k: number) => ({ lat: Number((p.lat + k * 1e-4).toFixed(7)), lng: p.lng });

/** An order matched to the courier through `g`'s match API and accepted by the courier's SDK. */
async function assign(g: TestGateway, driver: DriverClient, at: { lat: number; lng: number }, orderId: string): Promise<void> {
  const offered = new Promise<void>((resolve) => {
    const off = driver.onOffer((o) => {
      if (o.orderId !== orderId) return;
      off();
      resolve();
    });
  });
  const r = await httpRequest(g.port, 'POST', '/v1/match', { token: await g.serviceToken(), body: { orderId, pickup: north(at, 1), radiusM: 3000 } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  await offered;
  expect(await driver.accept(orderId)).toBe('accepted');
}

describe('GET /v1/regions', () => {
  it('lists every region: the own one from its state with its load, the others as probed; one that never answered is unreachable with no load and no age of a good probe', async () => {
    const l = await layout(['a', 'b', 'c']);
    const a = await startRegion('a', l);
    const b = await startRegion('b', l);
    await waitFor(() => seesHealthy(a, ['b']), { what: 'a sees b healthy' });
    const driverId = uniqueDriverId('rg');
    const driver = driverClient({ urls: [a.driverUrl], driverId, token: await a.token('driver', driverId), batchMaxPings: 1, batchMaxDelayMs: 0 });
    const seq = driver.ping({ lat: 10, lng: 10, status: 'available' });
    await waitFor(() => driver.lastAckedSeq === seq, { what: 'the ping acked' });

    const answer = await regionsOf(a);
    expect(answer.region).toBe('a');
    expect(answer.regions.map((r) => r.name)).toEqual(['a', 'b', 'c']);
    const [self, other, never] = answer.regions;
    expect(self).toMatchObject({ self: true, reachable: true, ready: true, endpoints: [`http://127.0.0.1:${l.ports.a}`], load: { connectedDrivers: 1 } });
    expect(other).toMatchObject({ self: false, reachable: true, ready: true, endpoints: [`http://127.0.0.1:${l.ports.b}`], load: { connectedDrivers: 0 } });
    expect(other!.rttMs).toBeGreaterThan(0);
    expect(other!.lastGoodAgeMs).toBeGreaterThanOrEqual(0);
    expect(never).toMatchObject({ self: false, reachable: false, ready: false });
    expect(never!.load).toBeUndefined();
    expect(never!.lastGoodAgeMs).toBeUndefined();
    expect(never!.error).toEqual(expect.any(String));
    // Readiness details name the other regions' reachability; c being down does not make a unready.
    const ready = await a.adminGet('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ status: 'ready', regions: { b: true, c: false } });
    expect(await a.metric('hexfleet_region_reachable', { region: 'c' })).toBe(0);
    expect(await a.metric('hexfleet_region_reachable', { region: 'b' })).toBe(1);
    await b.stop();
  });

  it('refuses a malformed HEXFLEET_REGION_ENDPOINTS, and endpoints without HEXFLEET_REGION, naming the variable', async () => {
    await expect(TestGateway.start({ HEXFLEET_REGION: 'a', HEXFLEET_REGION_ENDPOINTS: 'a=http://127.0.0.1:1/v1' })).rejects.toThrow(/HEXFLEET_REGION_ENDPOINTS .*without a path/);
    await expect(TestGateway.start({ HEXFLEET_REGION: 'a', HEXFLEET_REGION_ENDPOINTS: 'http://127.0.0.1:1' })).rejects.toThrow(/HEXFLEET_REGION_ENDPOINTS .*name=URL/);
    await expect(TestGateway.start({ HEXFLEET_REGION_ENDPOINTS: 'a=http://127.0.0.1:1' })).rejects.toThrow(/HEXFLEET_REGION_ENDPOINTS needs HEXFLEET_REGION/);
    await expect(TestGateway.start({ HEXFLEET_REGION: 'eu west' })).rejects.toThrow(/HEXFLEET_REGION may hold only/);
  });
});

describe('SDK with regional endpoints', () => {
  it('refuses urls and endpoints together, or neither', () => {
    const token = 'x';
    expect(() => new DriverClient({ urls: ['ws://127.0.0.1:1/v1/driver'], endpoints: ['http://127.0.0.1:1'], token })).toThrow(/either urls .* or endpoints/);
    expect(() => new DriverClient({ token })).toThrow(/either urls .* or endpoints/);
    expect(() => new DriverClient({ endpoints: [], token })).toThrow(/endpoints must be a non-empty array/);
    expect(() => new DriverClient({ endpoints: ['ftp://x'], token })).toThrow(/not an http\(s\):\/\/ or ws\(s\):\/\/ URL/);
  });

  it('connects to the healthy region with the lowest round trip it measured, never to one that does not answer', async () => {
    const l = await layout(['a', 'b', 'c']);
    const a = await startRegion('a', l);
    const b = await startRegion('b', l);
    await waitFor(async () => (await seesHealthy(a, ['b'])) && seesHealthy(b, ['a']), { what: 'a and b see each other healthy' });
    const driverId = uniqueDriverId('rg');
    // c first: it refuses connections, so the SDK asks the next endpoint.
    const endpoints = [`http://127.0.0.1:${l.ports.c}`, `http://127.0.0.1:${l.ports.a}`, `http://127.0.0.1:${l.ports.b}`];
    const driver = driverClient({ endpoints, driverId, token: await a.token('driver', driverId), batchMaxPings: 1, batchMaxDelayMs: 0 });
    const moves: RegionInfo[] = [];
    driver.on('region', (i) => moves.push(i));
    const seq = driver.ping({ lat: 11, lng: 11, status: 'available' });
    await waitFor(() => driver.lastAckedSeq === seq, { what: 'the first ping acked' });
    expect(moves).toHaveLength(1);
    const [first] = moves;
    expect(first!.previous).toBeUndefined();
    expect(first!.measured.map((m) => m.name).sort()).toEqual(['a', 'b']);
    expect(first!.rttMs).toBe(Math.min(...first!.measured.map((m) => m.rttMs)));
    expect(first!.measured.find((m) => m.name === first!.region)!.rttMs).toBe(first!.rttMs);
    expect(driver.region).toBe(first!.region);
    expect(driver.url).toBe(`ws://127.0.0.1:${l.ports[first!.region]}/v1/driver`);
    // The region chosen is the one that stored the ping.
    const stored = first!.region === 'a' ? a : b;
    expect((await stored.gateway.store.get(driverId, Date.now()))?.seq).toBe(seq);
  });

  it('moves to the next healthy region when its region is lost: every ping acked once, the unacked ones resent to the new region with their seq; tracking follows', async () => {
    const l = await layout(['a', 'b']);
    const a = await startRegion('a', l);
    const endpoints = [`http://127.0.0.1:${l.ports.a}`, `http://127.0.0.1:${l.ports.b}`];
    const driverId = uniqueDriverId('rg');
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    // b is not up yet: both clients can only choose a (the drill needs them there, whatever the round trips).
    const [driverToken, customerToken] = [await a.token('driver', driverId), await a.tokens.sign({ role: 'customer', sub: `c-${randomUUID().slice(0, 6)}`, orders: [orderId] })];
    // Listeners go on before any await: the first region event comes as soon as the choice is made.
    const driver = driverClient({ endpoints, driverId, token: driverToken, batchMaxPings: 5, batchMaxDelayMs: 30 });
    const tracker = trackingClient({ endpoints, token: customerToken });
    const driverErrors = collectErrors(driver);
    const acks: { seq: number; region: string | undefined }[] = [];
    driver.on('ack', (seq) => acks.push({ seq, region: driver.region }));
    const driverMoves: RegionInfo[] = [];
    const trackerMoves: RegionInfo[] = [];
    driver.on('region', (i) => driverMoves.push(i));
    tracker.on('region', (i) => trackerMoves.push(i));
    const positions: { ts: number; region: string | undefined }[] = [];
    tracker.on('position', (p) => positions.push({ ts: p.ts, region: tracker.region }));

    const at = { lat: -20, lng: 30 };
    const first = driver.ping({ ...at, status: 'available' });
    await waitFor(() => driver.lastAckedSeq === first, { what: 'the first ping acked in a' });
    await assign(a, driver, at, orderId);
    tracker.subscribe(orderId);
    const b = await startRegion('b', l);
    await waitFor(() => seesHealthy(a, ['b']), { what: 'a sees b healthy' });
    expect([driver.region, tracker.region]).toEqual(['a', 'a']);

    // The courier streams (a fix every 10 ms, sent in batches) through the loss.
    let k = 2;
    const stream = setInterval(() => driver.ping({ ...north(at, k++), status: 'available' }), 10);
    try {
      await waitFor(() => positions.some((p) => p.region === 'a') && acks.filter((x) => x.region === 'a').length >= 5, { what: 'pings acked in a and a position tracked from a' });
      const downs: string[] = [];
      driver.on('state', (s, info) => s === 'connecting' && downs.push(info.url ?? ''));
      await a.stop();
      // Produced while no region holds the socket: certainly unacked when the client moves.
      await waitFor(() => driver.state !== 'open', { what: 'the driver socket down' });
      const offline = driver.ping({ ...north(at, k++), status: 'available' });
      await waitFor(() => driver.region === 'b' && tracker.region === 'b', { what: 'both clients in b' });
      const lastAckInA = Math.max(...acks.filter((x) => x.region === 'a').map((x) => x.seq));
      expect(offline).toBeGreaterThan(lastAckInA);
      await waitFor(() => (driver.lastAckedSeq ?? 0) >= offline, { what: 'the offline ping acked by b' });
      // The order moves with its courier (what replication and the ownership move do; here b's match API stands in for them).
      await assign(b, driver, north(at, k), orderId);
      const movedAt = Date.now();
      await waitFor(() => positions.some((p) => p.region === 'b' && p.ts >= movedAt), { what: 'a live position tracked from b' });
      expect(downs.length).toBeGreaterThan(0);
    } finally {
      clearInterval(stream);
    }
    const last = driver.lastSeq;
    await waitFor(() => driver.lastAckedSeq === last, { what: 'every ping acked' });

    expect(driverMoves.map((m) => [m.previous, m.region])).toEqual([[undefined, 'a'], ['a', 'b']]);
    expect(trackerMoves.map((m) => [m.previous, m.region])).toEqual([[undefined, 'a'], ['a', 'b']]);
    // Acks are cumulative: strictly increasing means no ping acked twice; the last one is the last seq: no gap, nothing dropped.
    const seqs = acks.map((x) => x.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
    expect(driver.bufferDepth).toBe(0);
    expect([driver.dropped, driver.rejected]).toEqual([0, 0]);
    // b stored exactly the pings a had not acked, each once (the memory stores share nothing, so none came from a).
    const lastAckInA = Math.max(...acks.filter((x) => x.region === 'a').map((x) => x.seq));
    expect(await b.metric('hexfleet_pings_applied_total')).toBe(last - lastAckInA);
    expect(await b.metric('hexfleet_pings_duplicate_total')).toBe(0);
    expect((await b.gateway.store.get(driverId, Date.now()))?.seq).toBe(last);
    expect(driverErrors.filter((e) => !e.retry)).toEqual([]);
    // Tracking never went back in time across the move.
    const ts = positions.map((p) => p.ts);
    expect(ts).toEqual([...ts].sort((x, y) => x - y));

    // b shows a unreachable, with the age of its last good probe growing, and no load.
    await waitFor(async () => !(await entry(b, 'a')).reachable, { what: 'b sees a unreachable' });
    const lost = await entry(b, 'a');
    expect(lost).toMatchObject({ reachable: false, ready: false, error: expect.any(String) });
    expect(lost.load).toBeUndefined();
    expect(lost.lastGoodAgeMs).toBeGreaterThanOrEqual(lost.probeAgeMs);
    await waitFor(async () => ((await entry(b, 'a')).lastGoodAgeMs ?? 0) > lost.lastGoodAgeMs!, { what: 'the age of a\'s last good probe growing' });
  });
});
