import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AssignmentFrame, DriverClient, PositionFrame, StatusFrame, TrackingClient } from '../../src/sdk/index.js';
import { unusedFixedPort } from '../../kit/free-port.js';
import { httpRequest } from '../support/http-request.js';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { closeAllSdkClients, collectErrors, driverClient, trackingClient } from './sdk-harness.js';

/**
 * TrackingClient against real gateways in this process (memory store), with
 * a real courier (the SDK's DriverClient) and orders placed and accepted
 * through the real match API.
 */

afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
});

let sites = 0;
/** A fresh site per use (~55 km apart) so no test's driver is matched to another's order. */
function nextSite(): { lat: number; lng: number } {
  sites++;
  return { lat: -33 + sites * 0.5, lng: 18.4 };
}
const north = (p: { lat: number; lng: number }, k: number) => ({ lat: Number((p.lat + k * 1e-4).toFixed(7)), lng: p.lng });

/** Everything a TrackingClient emits, in order. */
function record(t: TrackingClient): { positions: PositionFrame[]; statuses: StatusFrame[]; assignments: AssignmentFrame[] } {
  const r = { positions: [] as PositionFrame[], statuses: [] as StatusFrame[], assignments: [] as AssignmentFrame[] };
  t.on('position', (p) => r.positions.push(p));
  t.on('status', (s) => r.statuses.push(s));
  t.on('assignment', (a) => r.assignments.push(a));
  return r;
}

/**
 * A POST as the order service, on its own connection: a pooled keep-alive
 * connection (fetch) would outlive a stopped gateway and reach it, not the
 * one restarted on its port.
 */
async function post(g: TestGateway, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await httpRequest(g.port, 'POST', path, { token: await g.serviceToken(), ...(body === undefined ? {} : { body }) });
  return { status: r.status, json: r.json };
}

/** A courier online at `at` (through the SDK), with the order matched to it and accepted. */
async function assign(g: TestGateway, driver: DriverClient, at: { lat: number; lng: number }, orderId: string): Promise<void> {
  const seq = driver.ping({ ...at, status: 'available' });
  await waitFor(() => (driver.lastAckedSeq ?? -1) >= seq, { what: `the courier's ping ${seq} acked` });
  const offered = new Promise<void>((resolve) => {
    const off = driver.onOffer((o) => {
      if (o.orderId !== orderId) return;
      off();
      resolve();
    });
  });
  const r = await post(g, '/v1/match', { orderId, pickup: north(at, 1), radiusM: 3000 });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  await offered;
  expect(await driver.accept(orderId)).toBe('accepted');
}

function customerToken(g: TestGateway, orders: string[]): Promise<string> {
  return g.tokens.sign({ role: 'customer', sub: `c-${randomUUID().slice(0, 6)}`, orders });
}

describe('TrackingClient', () => {
  it('subscribes and receives the status, the last-known position, live positions and assignment changes, in either encoding', async () => {
    for (const encoding of ['json', 'msgpack'] as const) {
      const g = await TestGateway.start({ HEXFLEET_OFFER_TIMEOUT_MS: '600000' });
      const at = nextSite();
      const driverId = uniqueDriverId('trk');
      const driver = driverClient({ urls: [g.driverUrl], driverId, token: await g.token('driver', driverId), batchMaxPings: 1, batchMaxDelayMs: 0 });
      const orderId = `o-${randomUUID().slice(0, 8)}`;
      await assign(g, driver, at, orderId);

      const t = trackingClient({ urls: [g.driverUrl.replace('/v1/driver', '/v1/track')], token: await customerToken(g, [orderId]), encoding });
      const seen = record(t);
      t.subscribe(orderId);
      await waitFor(() => seen.statuses.length > 0 && seen.positions.length > 0, { what: `the snapshot of ${orderId} (${encoding})` });
      expect(seen.statuses[0]).toMatchObject({ type: 'status', orderId, state: 'live', lastTs: expect.any(Number), ageMs: expect.any(Number) });
      expect(seen.positions[0]).toMatchObject({ type: 'position', orderId, driverId, ...at, ageMs: expect.any(Number) });

      const moved = north(at, 5);
      driver.ping(moved);
      await waitFor(() => seen.positions.some((p) => p.lat === moved.lat), { what: 'the live position' });
      const ts = seen.positions.map((p) => p.ts);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));

      expect((await post(g, `/v1/orders/${orderId}/complete`)).status).toBe(200);
      await waitFor(() => seen.assignments.some((a) => a.state === 'completed'), { what: 'the completed assignment frame' });
      expect(t.staleDropped).toBe(0);
      await t.close();
      await driver.close();
      await g.stop();
    }
  });

  it('reports a refused subscription as an error and stops asking for it; unsubscribe stops the frames of that order', async () => {
    const g = await TestGateway.start({ HEXFLEET_OFFER_TIMEOUT_MS: '600000' });
    const at = nextSite();
    const driverId = uniqueDriverId('trk');
    const driver = driverClient({ urls: [g.driverUrl], driverId, token: await g.token('driver', driverId), batchMaxPings: 1, batchMaxDelayMs: 0 });
    const mine = `o-${randomUUID().slice(0, 8)}`;
    const theirs = `o-${randomUUID().slice(0, 8)}`;
    await assign(g, driver, at, mine);
    const t = trackingClient({ urls: [`ws://127.0.0.1:${g.port}/v1/track`], token: await customerToken(g, [mine]) });
    const errors = collectErrors(t);
    const seen = record(t);
    t.subscribe(theirs);
    t.subscribe(mine);
    await waitFor(() => errors.length > 0 && seen.statuses.length > 0, { what: 'the refusal and the allowed snapshot' });
    expect(errors.map((e) => [e.code, e.orderId, e.retry])).toEqual([['not_allowed', theirs, false]]);
    expect(t.subscriptions).toEqual([mine]);
    expect(seen.statuses.every((s) => s.orderId === mine)).toBe(true);

    t.unsubscribe(mine);
    expect(t.subscriptions).toEqual([]);
    const before = seen.positions.length;
    const moved = north(at, 7);
    const seq = driver.ping(moved);
    await waitFor(() => (driver.lastAckedSeq ?? -1) >= seq, { what: 'the move acked' });
    // Subscribing again gets the snapshot, which already has the move: nothing in between was emitted.
    t.subscribe(mine);
    await waitFor(() => seen.positions.length > before, { what: 'the snapshot after subscribing again' });
    expect(seen.positions.slice(before)[0]).toMatchObject({ orderId: mine, ...moved });
  });

  it('reconnects after a gateway restart and subscribes again by itself', async () => {
    const port = await unusedFixedPort();
    const env = { PORT: String(port), HEXFLEET_OFFER_TIMEOUT_MS: '600000' };
    const g = await TestGateway.start(env);
    const at = nextSite();
    const driverId = uniqueDriverId('trk');
    const driverToken = await g.token('driver', driverId);
    const driver = driverClient({ urls: [g.driverUrl], driverId, token: driverToken, batchMaxPings: 1, batchMaxDelayMs: 0 });
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    await assign(g, driver, at, orderId);

    const t = trackingClient({ urls: [`ws://127.0.0.1:${port}/v1/track`], token: await customerToken(g, [orderId]) });
    const seen = record(t);
    const states: string[] = [];
    t.on('state', (s) => states.push(s));
    t.subscribe(orderId);
    await waitFor(() => seen.positions.length > 0, { what: 'the first snapshot' });

    await g.stop();
    await waitFor(() => t.state === 'connecting', { what: 'the tracking client to notice the restart' });
    const statusesBefore = seen.statuses.length;
    let again: TestGateway | undefined;
    await waitFor(async () => (again = await TestGateway.start(env).catch(() => undefined)) !== undefined, {
      what: `a gateway on port ${port} again`, timeoutMs: 30_000, intervalMs: 100,
    });
    // No subscribe call from the app: the client sends it on reconnect, and the new gateway answers with
    // the order's status as it knows it (its memory store starts empty: waiting, no position).
    await waitFor(() => seen.statuses.length > statusesBefore, { what: 'a status after the reconnect' });
    expect(seen.statuses[statusesBefore]).toMatchObject({ orderId, state: 'waiting' });
    expect(states.slice(-3)).toEqual(['open', 'connecting', 'open']);

    // The order is placed again on the new gateway: the same subscription carries it.
    await waitFor(() => driver.state === 'open', { what: 'the courier to reconnect' });
    const positionsBefore = seen.positions.length;
    await assign(again!, driver, north(at, 3), orderId);
    await waitFor(() => seen.statuses.some((s, i) => i > statusesBefore && s.state === 'live'), { what: 'live again' });
    await waitFor(() => seen.positions.length > positionsBefore, { what: 'a position after the reconnect' });
    expect(seen.positions.at(-1)).toMatchObject({ orderId, driverId, ...north(at, 3) });
    expect(seen.assignments.some((a) => a.state === 'accepted')).toBe(true);
  });
});
