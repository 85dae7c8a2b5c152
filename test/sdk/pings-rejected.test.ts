import { afterEach, describe, expect, it } from 'vitest';
import type { DriverClient } from '../../src/sdk/index.js';
import { httpRequest } from '../support/http-request.js';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { closeAllSdkClients, collectErrors, driverClient } from './sdk-harness.js';

/**
 * DriverClient reading the gateway's one-reply summary of a batch with
 * several rejected pings (`pings_rejected`), against a real gateway.
 */

afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
});

const at = (seq: number) => ({ lat: Number((52.52 + seq * 1e-5).toFixed(7)), lng: 13.405 });

function waitAcked(c: DriverClient, seq: number): Promise<void> {
  return waitFor(() => c.lastAckedSeq === seq && c.bufferDepth === 0, { what: `ack of seq ${seq} (last acked ${c.lastAckedSeq}, buffer ${c.bufferDepth})` });
}

describe('DriverClient and pings_rejected', () => {
  it.each(['msgpack', 'json'] as const)('reports the listed rejections by seq, drops every rejected ping and keeps the stored ones (%s)', async (encoding) => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), encoding, batchMaxPings: 15, batchMaxDelayMs: 600_000 });
    const errors = collectErrors(c);
    await waitFor(() => c.state === 'open', { what: 'the client to connect' });
    // 12 invalid pings (seqs 1..12) and 3 valid ones (13..15): one reply lists the first 10 and counts all 12.
    for (let i = 1; i <= 12; i++) c.ping({ lat: 91, lng: 13.405 });
    for (let i = 13; i <= 15; i++) c.ping(at(i));
    await waitAcked(c, 15);
    expect(c.rejected).toBe(12);
    expect(errors.slice(0, 10).map((e) => [e.code, e.seq, e.retry])).toEqual(Array.from({ length: 10 }, (_, i) => ['invalid_lat', i + 1, false]));
    expect(errors[10]).toMatchObject({ code: 'pings_rejected', retry: false });
    expect(errors[10]!.message).toMatch(/12 of 15 pings rejected \(invalid_lat 12\)/);
    expect(errors).toHaveLength(11);
    const r = await httpRequest(g.port, 'GET', `/v1/drivers/${id}`, { token: await g.serviceToken() });
    expect(r.json).toMatchObject({ seq: 15, ...at(15) });
  });

  it('ends a batch that had nothing accepted and moves on', async () => {
    const g = await TestGateway.start();
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 12, batchMaxDelayMs: 600_000 });
    await waitFor(() => c.state === 'open', { what: 'the client to connect' });
    for (let i = 1; i <= 12; i++) c.ping({ ...at(i), ts: Date.now() + 3_600_000 });
    await waitFor(() => c.rejected === 12 && c.bufferDepth === 0, { what: `the 12 ts_in_future pings to be dropped (rejected ${c.rejected}, buffer ${c.bufferDepth})` });
    for (let i = 13; i <= 24; i++) c.ping(at(i));
    await waitAcked(c, 24);
  });

  it('resends the valid pings from retryFromSeq, refused for the rate, and loses none', async () => {
    const g = await TestGateway.start({ HEXFLEET_RATE_PINGS_PER_SEC: '20', HEXFLEET_RATE_BURST: '4' });
    const id = uniqueDriverId();
    const c = driverClient({ urls: [g.driverUrl], token: await g.token('driver', id), batchMaxPings: 8, batchMaxDelayMs: 600_000, backoff: { initialMs: 100, maxMs: 400 } });
    const errors = collectErrors(c);
    await waitFor(() => c.state === 'open', { what: 'the client to connect' });
    // seq 1 invalid (spends a token first), 2..8 valid: 3 fit the rest of the burst, 5..8 wait for the rate.
    c.ping({ lat: 91, lng: 13.405 });
    for (let i = 2; i <= 8; i++) c.ping(at(i));
    await waitAcked(c, 8);
    expect(c.rejected).toBe(1);
    expect(errors[0]).toMatchObject({ code: 'invalid_lat', seq: 1 });
    expect(errors.slice(1, 5).map((e) => [e.code, e.seq, e.retry])).toEqual([5, 6, 7, 8].map((s) => ['rate_limited', s, true]));
    expect(await g.metric('hexfleet_pings_applied_total')).toBe(7);
    expect(await g.metric('hexfleet_pings_duplicate_total')).toBe(0);
  });
});
