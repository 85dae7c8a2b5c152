import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAllClients, ping, stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { type Reply, UpgradeRefused } from '../support/raw-driver-client.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Abuse limits on the WebSocket endpoints (issue 11), against a real
 * gateway: every frame counts against its connection's frame rate and
 * bad-frame budget whatever its type, a frame's rejections get one bounded
 * reply, ids are bounded before any lookup and never echoed.
 */

afterEach(closeAllClients);
afterAll(stopAllGateways);

type Summary = Reply & { counts: Record<string, number>; rejected: { seq: number; code: string }[]; retryFromSeq?: number; accepted: number };

const LIMITS = { HEXFLEET_BAD_FRAME_LIMIT: '3', HEXFLEET_FRAME_RATE_PER_SEC: '5', HEXFLEET_FRAME_BURST: '10' };

describe('abuse limits: /v1/driver', () => {
  it.each(['json', 'msgpack'] as const)('answers a frame of 1 valid and 499 invalid pings with one summary and one ack (%s)', async (encoding) => {
    const gw = await TestGateway.start();
    const id = uniqueDriverId();
    const c = await gw.connectDriver(id, encoding);
    const pings = [ping(1000, { lat: 52.5 }), ...Array.from({ length: 499 }, (_, i) => ping(i + 1, { lat: 91 }))];
    c.sendPings(pings);
    await c.waitForAck(1000);
    const errors = c.replies.filter((r) => r.type === 'error') as Summary[];
    expect(errors).toHaveLength(1);
    const s = errors[0]!;
    expect(s.code).toBe('pings_rejected');
    expect(s.counts).toEqual({ invalid_lat: 499 });
    expect(s.accepted).toBe(1);
    expect(s.rejected).toEqual(Array.from({ length: 10 }, (_, i) => ({ seq: i + 1, code: 'invalid_lat' })));
    expect(s.message).toMatch(/^499 of 500 pings rejected \(invalid_lat 499\)/);
    expect(c.replies).toHaveLength(2);
    expect((await gw.driver(id)).json).toMatchObject({ seq: 1000, lat: 52.5 });
    expect(await gw.metric('hexfleet_pings_rejected_total', { code: 'invalid_lat' })).toBe(499);
  });

  it('counts a frame with invalid pings against the bad-frame budget: a flood of them is closed with 4400', async () => {
    const gw = await TestGateway.start({ HEXFLEET_BAD_FRAME_LIMIT: '3' });
    const c = await gw.connectDriver(uniqueDriverId());
    let seq = 0;
    for (let f = 0; f < 6; f++) c.sendPings([ping(++seq), ...Array.from({ length: 99 }, () => ping(++seq, { lng: 200 }))]);
    expect(await c.closed).toEqual({ code: 4400, reason: 'protocol_violation' });
    // One summary per frame (and acks), never one reply per ping.
    expect(c.replies.filter((r) => r.type === 'error').length).toBeLessThanOrEqual(4);
  });

  it('spends the ping rate on invalid pings too, and says where to resend from', async () => {
    const gw = await TestGateway.start({ HEXFLEET_RATE_PINGS_PER_SEC: '1', HEXFLEET_RATE_BURST: '5' });
    const id = uniqueDriverId();
    const c = await gw.connectDriver(id);
    // 3 invalid pings take 3 of the 5 tokens: of 4 valid ones, 2 are stored and 2 refused for the rate.
    c.sendPings([ping(1, { lat: 'x' }), ping(2, { lat: 'x' }), ping(3, { lat: 'x' }), ping(4), ping(5), ping(6), ping(7)]);
    await c.waitForAck(5);
    const s = c.replies.find((r) => r.type === 'error') as Summary;
    expect(s).toMatchObject({ code: 'pings_rejected', counts: { invalid_lat: 3, rate_limited: 2 }, retryFromSeq: 6, accepted: 2 });
    expect(s.rejected.map((r) => [r.seq, r.code])).toEqual([[1, 'invalid_lat'], [2, 'invalid_lat'], [3, 'invalid_lat'], [6, 'rate_limited'], [7, 'rate_limited']]);
  });

  it('refuses frames past the frame rate with too_many_frames and closes the flood with 4400', async () => {
    const gw = await TestGateway.start(LIMITS);
    const abuser = await gw.connectDriver(uniqueDriverId());
    const victimId = uniqueDriverId();
    const victim = await gw.connectDriver(victimId);
    for (let i = 1; i <= 200; i++) abuser.sendPings([ping(i)]);
    expect(await abuser.closed).toEqual({ code: 4400, reason: 'protocol_violation' });
    const refused = abuser.replies.filter((r) => r.code === 'too_many_frames');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(4);
    // At most the burst (plus what refilled meanwhile) was acked; 200 frames cost nowhere near 200 replies.
    expect(abuser.replies.length).toBeLessThan(40);
    expect(await gw.metric('hexfleet_frames_rejected_total', { endpoint: 'driver', code: 'too_many_frames' })).toBeGreaterThanOrEqual(1);
    victim.sendPings([ping(1, { lat: 48.85 })]);
    await victim.waitForAck(1);
    expect((await gw.driver(victimId)).json).toMatchObject({ seq: 1, lat: 48.85 });
  });

  it('keeps the budgets per driver: a driver closed with 4400 cannot reconnect for the rest of the minute (429 too_many_frames)', async () => {
    const gw = await TestGateway.start({ HEXFLEET_BAD_FRAME_LIMIT: '3' });
    const id = uniqueDriverId();
    const first = await gw.connectDriver(id);
    for (let i = 0; i < 5; i++) first.sendRaw('{', false);
    expect(await first.closed).toEqual({ code: 4400, reason: 'protocol_violation' });
    const refused = await gw.connectDriver(id).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(UpgradeRefused);
    expect((refused as UpgradeRefused).status).toBe(429);
    expect(JSON.parse((refused as UpgradeRefused).body)).toMatchObject({ code: 'too_many_frames', message: expect.stringMatching(/connect again in \d+ s$/) });
    // Another driver is not affected.
    const other = await gw.connectDriver(uniqueDriverId());
    other.sendRaw('{', false);
    other.sendPings([ping(1)]);
    await other.waitForAck(1);
  });

  it('counts offer replies for orders never offered: a flood of them is closed with 4400', async () => {
    const gw = await TestGateway.start({ HEXFLEET_BAD_FRAME_LIMIT: '3' });
    const c = await gw.connectDriver(uniqueDriverId());
    for (let i = 0; i < 10; i++) c.send({ type: 'offer_reply', orderId: `nope-${i}`, accept: true });
    expect(await c.closed).toEqual({ code: 4400, reason: 'protocol_violation' });
    const errors = c.replies.filter((r) => r.type === 'error');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.every((r) => r.code === 'not_offered')).toBe(true);
  });

  it.each([129, 10_000])('refuses an orderId of %i characters with id_too_long before any lookup, without echoing it', async (length) => {
    const gw = await TestGateway.start();
    const c = await gw.connectDriver(uniqueDriverId());
    const long = 'o'.repeat(length);
    c.send({ type: 'offer_reply', orderId: long, accept: true });
    const r = await c.waitForError('id_too_long');
    expect(r.message).toBe(`offer_reply orderId is ${length} characters long; at most 128`);
    expect(JSON.stringify(c.replies)).not.toContain('oooooooooo');
    expect(await gw.metric('hexfleet_frames_rejected_total', { endpoint: 'driver', code: 'id_too_long' })).toBe(1);
  });

  it('rejects acc and spd the store cannot keep exactly (value_out_of_range) and stores the largest it can', async () => {
    const gw = await TestGateway.start();
    const id = uniqueDriverId();
    const c = await gw.connectDriver(id);
    c.sendPings([ping(1, { acc: 1e308 })]);
    expect(await c.waitForError('value_out_of_range', 1)).toMatchObject({ seq: 1 });
    c.sendPings([ping(2, { spd: 131072 })]);
    await c.waitForError('value_out_of_range', 2);
    c.sendPings([ping(3, { acc: 131071.99, spd: 0.01 })]);
    await c.waitForAck(3);
    expect((await gw.driver(id)).json).toMatchObject({ seq: 3, acc: 131071.99, spd: 0.01 });
  });

  it('drops a connection that sends invalid UTF-8 in a text frame (uWebSockets.js refuses it before the gateway sees it); others go on', async () => {
    const gw = await TestGateway.start();
    const bad = await gw.connectDriver(uniqueDriverId());
    const goodId = uniqueDriverId();
    const good = await gw.connectDriver(goodId);
    bad.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), false);
    // No close frame: the client sees 1006 (see the README's close codes).
    expect((await bad.closed).code).toBe(1006);
    good.sendPings([ping(1)]);
    await good.waitForAck(1);
  });
});

describe('abuse limits: /v1/track', () => {
  async function tracker(gw: TestGateway) {
    const { RawDriverClient } = await import('../support/raw-driver-client.js');
    const token = await gw.tokens.sign({ role: 'tracker', sub: 'order-1', ttlS: 600 });
    const c = await RawDriverClient.open(`ws://127.0.0.1:${gw.port}/v1/track`, { queryToken: token });
    gw.clients.add(c);
    return c;
  }

  it('refuses an orderId over the limit with id_too_long, without echoing it', async () => {
    const gw = await TestGateway.start();
    const c = await tracker(gw);
    c.send({ type: 'subscribe', orderId: 'x'.repeat(1000) });
    const r = await c.waitForError('id_too_long');
    expect(r.message).toBe('subscribe orderId is 1000 characters long; at most 128');
    expect(JSON.stringify(c.replies)).not.toContain('xxxxxxxxxx');
  });

  it('closes a frame flood with 4400', async () => {
    const gw = await TestGateway.start(LIMITS);
    const c = await tracker(gw);
    for (let i = 0; i < 200; i++) c.send({ type: 'unsubscribe', orderId: `o-${i}` });
    expect(await c.closed).toEqual({ code: 4400, reason: 'protocol_violation' });
    expect(c.replies.filter((r) => r.code === 'too_many_frames').length).toBeLessThanOrEqual(4);
    await waitFor(async () => (await gw.metric('hexfleet_frames_rejected_total', { endpoint: 'track', code: 'too_many_frames' })) >= 1, { what: 'the refused frames to be counted' });
  });
});
