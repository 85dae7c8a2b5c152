import { afterEach, describe, expect, it } from 'vitest';
import { DriverClient, SdkError } from '../../src/sdk/index.js';
import { unusedFixedPort } from '../../kit/free-port.js';
import { httpRequest } from '../support/http-request.js';
import { TestGateway, stopAllGateways, uniqueDriverId } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { closeAllSdkClients, collectErrors, driverClient } from './sdk-harness.js';

/**
 * DriverClient against real gateways in this process (memory store): every
 * behaviour is observed from the gateway's side too (its metrics and the
 * stored record), never from a mock.
 */

afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
});

const BERLIN = { lat: 52.52, lng: 13.405 };
/** A distinct position per seq (1e-5° ≈ 1 m apart), so the stored record tells which ping won. */
const at = (seq: number) => ({ lat: Number((BERLIN.lat + seq * 1e-5).toFixed(7)), lng: BERLIN.lng });

/**
 * GET /v1/drivers/:id on its own connection: a pooled keep-alive connection
 * (fetch) would outlive a stopped gateway and read its store, not the store
 * of the one restarted on its port.
 */
async function stored(g: TestGateway, driverId: string): Promise<{ seq: number; lat: number; lng: number; status: string } | undefined> {
  const r = await httpRequest(g.port, 'GET', `/v1/drivers/${encodeURIComponent(driverId)}`, { token: await g.serviceToken() });
  return r.status === 200 ? r.json : undefined;
}

/** A gateway on `port`, retried while the port is still held by the previous one's closing sockets. */
async function startOnPort(port: number): Promise<TestGateway> {
  let started: TestGateway | undefined;
  await waitFor(
    async () => {
      started = await TestGateway.start({ PORT: String(port) }).catch(() => undefined);
      return started !== undefined;
    },
    { what: `a gateway listening on port ${port} again`, timeoutMs: 30_000, intervalMs: 100 },
  );
  return started!;
}

function waitOpen(c: DriverClient, what = 'the client to connect'): Promise<void> {
  return waitFor(() => c.state === 'open', { what });
}

function waitAcked(c: DriverClient, seq: number): Promise<void> {
  return waitFor(() => c.lastAckedSeq === seq && c.bufferDepth === 0, { what: `ack of seq ${seq} (last acked ${c.lastAckedSeq}, buffer ${c.bufferDepth})` });
}

describe('DriverClient batching', () => {
  it.each(['msgpack', 'json'] as const)('sends a batch as soon as batchMaxPings pings are waiting (%s)', async (encoding) => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), encoding, batchMaxPings: 5, batchMaxDelayMs: 600_000 });
    const acks: number[] = [];
    c.on('ack', (s) => acks.push(s));
    await waitOpen(c);
    for (let i = 1; i <= 5; i++) expect(c.ping(at(i))).toBe(i);
    await waitAcked(c, 5);
    expect(acks).toEqual([5]);
    expect(await g.metric('hexfleet_batch_size_pings_count')).toBe(1);
    expect(await g.metric('hexfleet_batch_size_pings_sum')).toBe(5);
    expect(await stored(g, id)).toMatchObject({ seq: 5, ...at(5) });
    expect(c.lastSentSeq).toBe(5);
  });

  it('sends a partial batch once its oldest ping waited batchMaxDelayMs', async () => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 100, batchMaxDelayMs: 300 });
    await waitOpen(c);
    const t0 = Date.now();
    c.ping(at(1));
    c.ping(at(2));
    c.ping(at(3));
    expect(c.bufferDepth).toBe(3);
    await waitAcked(c, 3);
    // Timers may fire a millisecond early; anything near 300 ms shows the batch waited.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(await g.metric('hexfleet_batch_size_pings_count')).toBe(1);
    expect(await g.metric('hexfleet_batch_size_pings_sum')).toBe(3);
    expect(await stored(g, id)).toMatchObject({ seq: 3, ...at(3) });
  });

  it('sends nothing while disconnected and buffers at most bufferMaxPings, dropping the oldest; a gateway restarted on the same port gets the rest with their own seqs', async () => {
    // Below the ephemeral range: a client retrying an ephemeral port can end up connected to itself.
    const port = await unusedFixedPort();
    const g = await TestGateway.start({ PORT: String(port) });
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 3, batchMaxDelayMs: 0, bufferMaxPings: 5 });
    await waitOpen(c);
    c.ping(at(1));
    c.ping(at(2));
    await waitAcked(c, 2);

    await g.stop();
    await waitFor(() => c.state === 'connecting', { what: 'the client to notice the gateway is gone' });
    for (let i = 3; i <= 12; i++) c.ping({ ...at(i), status: 'available' });
    expect(c.bufferDepth).toBe(5);
    expect(c.dropped).toBe(5); // seqs 3..7, the oldest
    expect(c.lastAckedSeq).toBe(2);

    const again = await startOnPort(port);
    await waitAcked(c, 12);
    expect(c.dropped).toBe(5);
    // Only the five kept pings reached the new gateway, each once, with its original seq and position.
    expect(await again.metric('hexfleet_pings_received_total')).toBe(5);
    expect(await again.metric('hexfleet_pings_applied_total')).toBe(5);
    expect(await stored(again, id)).toMatchObject({ seq: 12, ...at(12), status: 'available' });
  });
});

describe('DriverClient rejections and retries', () => {
  it('drops a ping rejected as not retryable and stores the rest of its batch', async () => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 3, batchMaxDelayMs: 600_000 });
    const errors = collectErrors(c);
    await waitOpen(c);
    c.ping(at(1));
    c.ping({ lat: 123, lng: 13.4 });
    c.ping(at(3));
    await waitAcked(c, 3);
    expect(c.rejected).toBe(1);
    expect(errors.map((e) => [e.code, e.seq, e.retry])).toEqual([['invalid_lat', 2, false]]);
    expect(errors[0]).toBeInstanceOf(SdkError);
    // A batch of nothing but a rejected ping gets no ack; the client still moves on.
    for (let i = 4; i <= 6; i++) c.ping({ ...at(i), ts: Date.now() + 3_600_000 });
    await waitFor(() => c.rejected === 4 && c.bufferDepth === 0, { what: 'the ts_in_future pings to be dropped' });
    c.ping(at(7));
    c.ping(at(8));
    c.ping(at(9));
    await waitAcked(c, 9);
    expect(errors.map((e) => e.code)).toEqual(['invalid_lat', 'ts_in_future', 'ts_in_future', 'ts_in_future']);
    expect(await stored(g, id)).toMatchObject({ seq: 9, ...at(9) });
  });

  it('keeps pings rejected with rate_limited and resends them, in seq order, after a backoff', async () => {
    const g = await TestGateway.start({ HEXFLEET_RATE_PINGS_PER_SEC: '20', HEXFLEET_RATE_BURST: '3' });
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 6, batchMaxDelayMs: 600_000, backoff: { initialMs: 100, maxMs: 400 } });
    const errors = collectErrors(c);
    await waitOpen(c);
    for (let i = 1; i <= 6; i++) c.ping(at(i));
    await waitAcked(c, 6);
    expect(c.rejected).toBe(0);
    expect(c.dropped).toBe(0);
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(errors.every((e) => e.code === 'rate_limited' && e.retry)).toBe(true);
    expect(errors.slice(0, 3).map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(await g.metric('hexfleet_pings_applied_total')).toBe(6);
    expect(await g.metric('hexfleet_pings_duplicate_total')).toBe(0);
    expect(await stored(g, id)).toMatchObject({ seq: 6, ...at(6) });
  });

  it('stops for good on 4400 protocol_violation (the close-code table says: do not reconnect)', async () => {
    const g = await TestGateway.start({ HEXFLEET_BAD_FRAME_LIMIT: '1' });
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', uniqueDriverId()), batchMaxPings: 1, batchMaxDelayMs: 0 });
    const errors = collectErrors(c);
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    await waitOpen(c);
    // Frames whose every ping is invalid count as bad frames on the gateway.
    c.ping({ lat: 999, lng: 0 });
    await waitFor(() => c.rejected === 1, { what: 'the first rejection' });
    c.ping({ lat: 999, lng: 0 });
    await waitFor(() => c.state === 'closed', { what: 'the client to close on 4400' });
    expect(errors.map((e) => e.code)).toContain('protocol_violation');
    expect(errors.find((e) => e.code === 'protocol_violation')!.retry).toBe(false);
    expect(states.at(-1)).toBe('closed');
    expect(() => c.ping(at(1))).toThrow(SdkError);
    expect(await g.metric('hexfleet_driver_connections')).toBe(0);
  });
});

describe('DriverClient reconnects', () => {
  it('fails over to the next URL: past a dead one at start, and away from a gateway that stops', async () => {
    const dead = `ws://127.0.0.1:${await unusedFixedPort()}/v1/driver`;
    const g1 = await TestGateway.start();
    const g2 = await TestGateway.start();
    const id = uniqueDriverId();
    const token = await g1.token('driver', id); // both gateways share the test secret
    const c = driverClient({ urls: [dead, g1.driverUrl, g2.driverUrl], token, batchMaxPings: 2, batchMaxDelayMs: 0 });
    const opened: string[] = [];
    c.on('state', (s, info) => s === 'open' && opened.push(info.url!));
    await waitOpen(c);
    expect(c.url).toBe(g1.driverUrl);
    c.ping(at(1));
    await waitAcked(c, 1);
    expect((await stored(g1, id))?.seq).toBe(1);

    await g1.stop();
    c.ping(at(2));
    await waitAcked(c, 2);
    expect(c.url).toBe(g2.driverUrl);
    expect(opened).toEqual([g1.driverUrl, g2.driverUrl]);
    expect(await stored(g2, id)).toMatchObject({ seq: 2, ...at(2) });
  });

  it('extends a session in band before its token expires: a fresh token from the token function in an auth frame, no 4401, no reconnect', async () => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    let calls = 0;
    const token = async (): Promise<string> => (++calls === 1 ? g.token('driver', id, 2) : g.token('driver', id, 3600));
    const c = driverClient({ urls: [g.driverUrl], token, batchMaxPings: 1, batchMaxDelayMs: 0 });
    const errors = collectErrors(c);
    const closes: (number | undefined)[] = [];
    c.on('state', (s, info) => s === 'connecting' && info.code !== undefined && closes.push(info.code));
    await waitOpen(c);
    c.ping(at(1));
    await waitAcked(c, 1);
    // Past the first token's exp: the socket was extended (auth frame) before it, so nothing closed.
    const expiry = Date.now() + 2_000;
    await waitFor(() => Date.now() > expiry + 1_100, { what: 'the first token to be past its exp and a sweep', timeoutMs: 10_000 });
    c.ping(at(2));
    await waitAcked(c, 2);
    expect(closes).toEqual([]);
    expect(calls).toBe(2);
    expect(errors).toEqual([]);
    expect(await g.metric('hexfleet_driver_disconnects_total', { reason: 'token_expired' })).toBe(0);
    expect(await g.metric('hexfleet_pings_applied_total')).toBe(2);
    expect(await stored(g, id)).toMatchObject({ seq: 2, ...at(2) });
  });

  it('on 4401 token_expired (a static token the client cannot refresh) the gateway closed the socket at exp, whether or not the app sent', async () => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id, 2), batchMaxPings: 1, batchMaxDelayMs: 0 });
    const closes: (number | undefined)[] = [];
    c.on('state', (s, info) => s === 'connecting' && info.code !== undefined && closes.push(info.code));
    await waitOpen(c);
    await waitFor(() => closes.length > 0, { what: 'the gateway to close the socket at exp', timeoutMs: 10_000 });
    expect(closes[0]).toBe(4401);
    expect(await g.metric('hexfleet_driver_disconnects_total', { reason: 'token_expired' })).toBe(1);
  });
});

describe('DriverClient offers', () => {
  it('receives offers from a real POST /v1/match and accepts or rejects them', async () => {
    const g = await TestGateway.start();
    const id = uniqueDriverId('offer');
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 1, batchMaxDelayMs: 0, encoding: 'json' });
    const offers: string[] = [];
    c.onOffer((o) => offers.push(o.orderId));
    await waitOpen(c);
    c.ping({ ...BERLIN, status: 'available' });
    await waitAcked(c, 1);

    const service = await g.serviceToken();
    const match = (orderId: string) => httpRequest(g.port, 'POST', '/v1/match', { token: service, body: { orderId, pickup: { lat: 52.521, lng: 13.406 }, radiusM: 3000 } });
    const assignment = async (orderId: string) => (await httpRequest(g.port, 'GET', `/v1/orders/${orderId}/assignment`, { token: service })).json;

    const first = `o-${id}-1`;
    expect(await match(first)).toMatchObject({ status: 200, json: { state: 'offered', driverId: id } });
    await waitFor(() => offers.includes(first), { what: `the offer of ${first}` });
    await expect(c.reject(first)).resolves.toBe('rejected');
    expect((await assignment(first)).history.map((h: { event: string }) => h.event)).toContain('rejected');

    const second = `o-${id}-2`;
    expect(await match(second)).toMatchObject({ status: 200, json: { state: 'offered', driverId: id } });
    await waitFor(() => offers.includes(second), { what: `the offer of ${second}` });
    await expect(c.accept(second)).resolves.toBe('accepted');
    expect(await assignment(second)).toMatchObject({ state: 'accepted', driverId: id });

    // An answer to an offer that is gone changes nothing and says why.
    const late = await c.accept(first).then(() => undefined, (e: unknown) => e);
    expect(late).toBeInstanceOf(SdkError);
    expect(late).toMatchObject({ retry: false, orderId: first });
    expect(['offer_expired', 'not_offered']).toContain((late as SdkError).code);
    expect(offers).toEqual([first, second]);
  });
});
