import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCodes } from '../../src/protocol/error-codes.js';
import {
  closeAllClients,
  ping,
  stopAllGateways,
  TEST_JWT_SECRET,
  TestGateway,
  uniqueDriverId,
} from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { type Encoding, type RawDriverClient, UpgradeRefused } from '../support/raw-driver-client.js';

/**
 * The driver stream (/v1/driver) against a real gateway on the embedded memory
 * store, through real WebSocket clients and real HTTP requests.
 */

afterEach(closeAllClients);
afterAll(stopAllGateways);

const HOUR = 3_600_000;

/** Expects the upgrade to be refused with `status`, and no socket to have opened. */
async function expectRefused(gw: TestGateway, options: Parameters<TestGateway['connect']>[0], status: number): Promise<UpgradeRefused> {
  const err = await gw.connect(options).then(
    (client) => {
      throw new Error(`the upgrade succeeded (socket open: ${client.isOpen}); expected HTTP ${status}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpgradeRefused);
  const refused = err as UpgradeRefused;
  expect(refused.status).toBe(status);
  return refused;
}

describe('driver stream: authentication on upgrade', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start();
  });

  const secondsFromNow = (s: number) => Math.floor(Date.now() / 1000) + s;
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const otherKey = new TextEncoder().encode('another-secret-that-is-long-enough-0123456789');

  const refusals: { name: string; token: () => Promise<string | undefined>; status: number; message: RegExp }[] = [
    { name: 'no token', token: async () => undefined, status: 401, message: /no token/ },
    { name: 'a malformed token', token: async () => 'not.a.jwt', status: 401, message: /malformed or badly signed/ },
    {
      name: 'a token signed with another secret',
      token: () => new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS256' }).setSubject('d1').sign(otherKey),
      status: 401,
      message: /malformed or badly signed/,
    },
    {
      name: 'an expired token',
      token: () =>
        new SignJWT({ role: 'driver' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('d1')
          .setIssuedAt(secondsFromNow(-120))
          .setExpirationTime(secondsFromNow(-60))
          .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
      status: 401,
      message: /expired/,
    },
    {
      name: 'a token without a subject',
      token: () => new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET)),
      status: 401,
      message: /role or a subject/,
    },
    {
      name: 'an unsigned token (alg none)',
      token: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ role: 'driver', sub: 'd1' })}.`,
      status: 401,
      message: /malformed or badly signed/,
    },
    {
      name: 'a token signed with HS512',
      token: () => new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS512' }).setSubject('d1').sign(new TextEncoder().encode(TEST_JWT_SECRET.repeat(2))),
      status: 401,
      message: /malformed or badly signed/,
    },
    {
      name: 'a token whose payload was changed after signing',
      token: async () => {
        const [h, , sig] = (await gw.token('driver', 'd1')).split('.');
        return `${h}.${b64({ role: 'driver', sub: 'd2' })}.${sig}`;
      },
      status: 401,
      message: /malformed or badly signed/,
    },
    {
      name: 'a token not valid yet (nbf)',
      token: () =>
        new SignJWT({ role: 'driver' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('d1')
          .setNotBefore(secondsFromNow(600))
          .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
      status: 401,
      message: /malformed or badly signed/,
    },
    { name: 'a subject that is not a usable driver id', token: () => gw.token('driver', 'two words'), status: 401, message: /usable driver id/ },
    { name: 'a valid service token', token: () => gw.token('service', 'svc'), status: 403, message: /role service/ },
    { name: 'a valid admin token', token: () => gw.token('admin', 'root'), status: 403, message: /role admin/ },
  ];

  for (const via of ['query', 'bearer'] as const) {
    it.each(refusals)(`refuses $name (via ${via}) with HTTP $status and opens no socket`, async ({ token, status, message }) => {
      const jwt = await token();
      const options = via === 'query' ? { ...(jwt === undefined ? {} : { queryToken: jwt }) } : { ...(jwt === undefined ? {} : { bearerToken: jwt }) };
      const refused = await expectRefused(gw, options, status);
      const body = JSON.parse(refused.body) as { code: string; message: string };
      expect(body.code).toBe(status === 401 ? 'unauthorized' : 'forbidden');
      expect(body.message).toMatch(message);
      expect(await gw.metric('hexfleet_driver_connections')).toBe(0);
    });
  }

  it.each(['query', 'bearer'] as const)('accepts a driver token passed via %s', async (via) => {
    const id = uniqueDriverId();
    const jwt = await gw.token('driver', id);
    const client = await gw.connect(via === 'query' ? { queryToken: jwt } : { bearerToken: jwt });
    expect(client.isOpen).toBe(true);
    client.sendPings([ping(1)]);
    await client.waitForAck(1);
    expect((await gw.driver(id)).json.driverId).toBe(id);
  });
});

describe('driver stream: frames, acks and validation', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start({ HEXFLEET_MAX_BATCH: '5' });
  });

  it.each(['json', 'msgpack'] as const)('answers %s frames in the same encoding', async (encoding: Encoding) => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id, encoding);
    client.sendPings([ping(1), ping(2, { lat: 91 })]);
    const ack = await client.waitForAck(1);
    const err = await client.waitForError('invalid_lat', 2);
    const binary = encoding === 'msgpack';
    expect(ack).toEqual({ type: 'ack', seq: 1, binary });
    expect(err.binary).toBe(binary);
    expect(err.message).toEqual(expect.any(String));
  });

  it('acks the highest seq of a batch, only once the store holds every ping', async () => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id);
    const now = Date.now();
    // Out of order on purpose: the ack names the highest seq, not the last one sent.
    client.sendPings([
      ping(11, { lat: 52.5201, ts: now - 2000 }),
      ping(13, { lat: 52.5203, ts: now, acc: 8, spd: 7.5, hdg: 270, status: 'available' }),
      ping(12, { lat: 52.5202, ts: now - 1000 }),
    ]);
    await client.waitForAck(13);
    const res = await gw.driver(id);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ driverId: id, seq: 13, lat: 52.5203, lng: 13.405, ts: now, acc: 8, spd: 7.5, hdg: 270, status: 'available', stale: false });
    expect(client.replies).toEqual([{ type: 'ack', seq: 13, binary: false }]);
  });

  it('rejects the one invalid ping of a batch with its seq and stores and acks the valid ones', async () => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id, 'msgpack');
    const now = Date.now();
    client.sendPings([ping(1, { ts: now - 2000 }), ping(2, { lng: 181 }), ping(3, { lat: 52.53, ts: now })]);
    expect(await client.waitForError('invalid_lng', 2)).toMatchObject({ type: 'error', code: 'invalid_lng', seq: 2 });
    await client.waitForAck(3);
    expect((await gw.driver(id)).json).toMatchObject({ seq: 3, lat: 52.53, lng: 13.405 });
    expect(client.replies.filter((r) => r.type === 'error')).toHaveLength(1);
  });

  /** Each invalid ping travels with a valid one (seq 100), which must still be stored and acked. */
  const invalidPings: { code: string; bad: () => unknown; seq: number | undefined }[] = [
    { code: 'invalid_seq', bad: () => ping(-1), seq: -1 },
    { code: 'invalid_seq', bad: () => ping(1.5), seq: 1.5 },
    { code: 'invalid_seq', bad: () => ({ ...ping(0), seq: '7' }), seq: undefined },
    { code: 'invalid_seq', bad: () => ({ lat: 52.52, lng: 13.405, ts: Date.now() }), seq: undefined },
    { code: 'invalid_lat', bad: () => ping(5, { lat: 90.0000001 }), seq: 5 },
    { code: 'invalid_lat', bad: () => ping(5, { lat: '52.52' }), seq: 5 },
    { code: 'invalid_lat', bad: () => ping(5, { lat: undefined }), seq: 5 },
    { code: 'invalid_lng', bad: () => ping(5, { lng: -180.5 }), seq: 5 },
    { code: 'invalid_lng', bad: () => ping(5, { lng: null }), seq: 5 },
    { code: 'invalid_ts', bad: () => ping(5, { ts: '2025-11-27T00:00:00Z' }), seq: 5 },
    { code: 'invalid_ts', bad: () => ping(5, { ts: undefined }), seq: 5 },
    { code: 'ts_in_future', bad: () => ping(5, { ts: Date.now() + 10 * 60_000 }), seq: 5 },
    { code: 'ts_too_old', bad: () => ping(5, { ts: Date.now() - 48 * HOUR }), seq: 5 },
    { code: 'invalid_field', bad: () => ping(5, { acc: -1 }), seq: 5 },
    { code: 'invalid_field', bad: () => ping(5, { spd: 'fast' }), seq: 5 },
    { code: 'invalid_field', bad: () => ping(5, { hdg: 361 }), seq: 5 },
    { code: 'invalid_status', bad: () => ping(5, { status: 'asleep' }), seq: 5 },
    { code: 'invalid_status', bad: () => ping(5, { status: 3 }), seq: 5 },
    { code: 'invalid_ping', bad: () => 42, seq: undefined },
    { code: 'invalid_ping', bad: () => null, seq: undefined },
    { code: 'invalid_ping', bad: () => 'seq=5', seq: undefined },
  ];

  for (const encoding of ['json', 'msgpack'] as const) {
    it.each(invalidPings.map((c, i) => ({ ...c, i })))(`${encoding}: $code (case $i)`, async ({ code, bad, seq }) => {
      const id = uniqueDriverId();
      const client = await gw.connectDriver(id, encoding);
      const before = await gw.metric('hexfleet_pings_rejected_total', { code });
      client.sendPings([bad(), ping(100)]);
      await client.waitForAck(100);
      const err = await client.waitForError(code);
      expect(err.seq).toBe(seq);
      if (seq === undefined) expect(err).not.toHaveProperty('seq');
      expect(err.message).toEqual(expect.any(String));
      expect((await gw.driver(id)).json.seq).toBe(100);
      expect(await gw.metric('hexfleet_pings_rejected_total', { code })).toBe(before + 1);
    });
  }

  /** Frame-level errors carry no seq; nothing is stored. Each case gets its own connection (bad frames are counted per connection). */
  const badFrames: { name: string; code: string; send: (c: RawDriverClient) => void; binary: boolean }[] = [
    { name: 'text that is not JSON', code: 'malformed_frame', send: (c) => c.sendRaw('{"type":"pings",', false), binary: false },
    // A map header announcing more entries than the frame holds.
    { name: 'binary that is not msgpack', code: 'malformed_frame', send: (c) => c.sendRaw(Buffer.from([0x82, 0xa4, 0x74, 0x79]), true), binary: true },
    { name: 'a JSON array', code: 'invalid_frame', send: (c) => c.sendRaw('[1,2]', false), binary: false },
    { name: 'a JSON null', code: 'invalid_frame', send: (c) => c.sendRaw('null', false), binary: false },
    { name: 'a frame without type', code: 'invalid_frame', send: (c) => c.send({ pings: [ping(1)] }), binary: false },
    { name: 'a numeric type (msgpack)', code: 'invalid_frame', send: (c) => c.send({ type: 7, pings: [ping(1)] }, 'msgpack'), binary: true },
    { name: 'an unknown type', code: 'unknown_type', send: (c) => c.send({ type: 'hello' }), binary: false },
    { name: 'an unknown type (msgpack)', code: 'unknown_type', send: (c) => c.send({ type: 'subscribe', pings: [ping(1)] }, 'msgpack'), binary: true },
    { name: 'pings missing', code: 'invalid_batch', send: (c) => c.send({ type: 'pings' }), binary: false },
    { name: 'pings empty', code: 'invalid_batch', send: (c) => c.send({ type: 'pings', pings: [] }), binary: false },
    { name: 'pings not an array', code: 'invalid_batch', send: (c) => c.send({ type: 'pings', pings: { 0: ping(1) } }, 'msgpack'), binary: true },
    {
      name: 'more pings than HEXFLEET_MAX_BATCH',
      code: 'batch_too_large',
      send: (c) => c.sendPings([1, 2, 3, 4, 5, 6].map((s) => ping(s))),
      binary: false,
    },
  ];

  it.each(badFrames)('answers $name with $code and no seq', async ({ code, send, binary }) => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id);
    send(client);
    const err = await client.waitForError(code);
    expect(err).not.toHaveProperty('seq');
    expect(err.binary).toBe(binary);
    expect(err.message).toEqual(expect.any(String));
    // The connection survives one bad frame and still streams.
    client.sendPings([ping(50)]);
    await client.waitForAck(50);
    expect(client.replies.map((r) => r.type)).toEqual(['error', 'ack']);
    expect((await gw.driver(id)).json.seq).toBe(50);
  });

  it('accepts a batch of exactly HEXFLEET_MAX_BATCH pings', async () => {
    const client = await gw.connectDriver(uniqueDriverId());
    client.sendPings([1, 2, 3, 4, 5].map((s) => ping(s)));
    await client.waitForAck(5);
  });

  it('takes the driver id from the token, never from the frame', async () => {
    const me = uniqueDriverId('me');
    const victim = uniqueDriverId('victim');
    const victimClient = await gw.connectDriver(victim);
    victimClient.sendPings([ping(1, { lat: 48.8566, lng: 2.3522 })]);
    await victimClient.waitForAck(1);

    const client = await gw.connectDriver(me);
    client.send({ type: 'pings', driverId: victim, pings: [ping(9, { driverId: victim, lat: 40.4168, lng: -3.7038 })] });
    await client.waitForAck(9);
    expect((await gw.driver(victim)).json).toMatchObject({ seq: 1, lat: 48.8566, lng: 2.3522 });
    expect((await gw.driver(me)).json).toMatchObject({ driverId: me, seq: 9, lat: 40.4168, lng: -3.7038 });
    expect((await gw.driver(me)).json).not.toHaveProperty('driverId', victim);
  });

  it('acks duplicate seqs without applying them again', async () => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id);
    const now = Date.now();
    client.sendPings([ping(1, { ts: now - 3000 }), ping(2, { ts: now - 2000, lat: 52.5 })]);
    await client.waitForAck(2);
    const dupBefore = await gw.metric('hexfleet_pings_duplicate_total');
    const appliedBefore = await gw.metric('hexfleet_pings_applied_total');

    // A resend after a lost ack: the same seqs, even with other content.
    client.sendPings([ping(1, { ts: now, lat: 10 }), ping(2, { ts: now, lat: 11 })], 'msgpack');
    expect(await client.waitForReply((r) => r.type === 'ack' && r.binary)).toMatchObject({ seq: 2 });
    expect((await gw.driver(id)).json).toMatchObject({ seq: 2, lat: 52.5, ts: now - 2000 });
    expect(await gw.metric('hexfleet_pings_duplicate_total')).toBe(dupBefore + 2);
    expect(await gw.metric('hexfleet_pings_applied_total')).toBe(appliedBefore);

    // A batch mixing a duplicate and a new ping applies only the new one.
    client.sendPings([ping(2, { ts: now, lat: 12 }), ping(3, { ts: now, lat: 52.6 })]);
    await client.waitForAck(3);
    expect((await gw.driver(id)).json).toMatchObject({ seq: 3, lat: 52.6 });
    expect(await gw.metric('hexfleet_pings_duplicate_total')).toBe(dupBefore + 3);
    expect(await gw.metric('hexfleet_pings_applied_total')).toBe(appliedBefore + 1);
  });

  it('never lets a ping with an older ts overwrite the stored position', async () => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id);
    const now = Date.now();
    client.sendPings([ping(1, { ts: now, lat: 52.51 })]);
    await client.waitForAck(1);
    client.sendPings([ping(2, { ts: now - 5000, lat: 52.49, status: 'busy' })]);
    await client.waitForAck(2);
    // seq and status advance; the position stays the newest fix.
    expect((await gw.driver(id)).json).toMatchObject({ seq: 2, lat: 52.51, ts: now, status: 'busy' });
  });

  it('keeps the status until a ping changes it', async () => {
    const id = uniqueDriverId();
    const client = await gw.connectDriver(id);
    const steps: { p: Record<string, unknown>; status: string }[] = [
      { p: ping(1), status: 'unknown' },
      { p: ping(2, { status: 'busy' }), status: 'busy' },
      { p: ping(3), status: 'busy' },
      { p: ping(4, { status: null }), status: 'busy' },
      { p: ping(5, { status: 'available' }), status: 'available' },
      { p: ping(6), status: 'available' },
      { p: ping(7, { status: 'offline' }), status: 'offline' },
    ];
    for (const { p, status } of steps) {
      client.sendPings([p]);
      await client.waitForAck(p.seq as number);
      expect((await gw.driver(id)).json.status, `after seq ${String(p.seq)}`).toBe(status);
    }
  });
});

describe('driver stream: per-connection rate limit', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start({ HEXFLEET_RATE_PINGS_PER_SEC: '1', HEXFLEET_RATE_BURST: '3' });
  });

  it('answers the excess pings with rate_limited, stores the rest, and keeps the connection open', async () => {
    const id = uniqueDriverId();
    const other = await gw.connectDriver(uniqueDriverId('other'));
    const client = await gw.connectDriver(id);
    const before = await gw.metric('hexfleet_pings_rejected_total', { code: 'rate_limited' });
    // The bucket starts full at the burst (3) and never holds more, so exactly
    // the three lowest seqs pass, whatever time has gone by since the upgrade.
    client.sendPings([5, 1, 4, 2, 6, 3, 7].map((s) => ping(s, { lat: 52 + s / 100 })));
    await client.waitForAck(3);
    const ackedAt = Date.now();
    // One reply for the frame's four rejections (issue 11: bounded errors), listing them by seq.
    expect(await client.waitForError('pings_rejected')).toMatchObject({
      counts: { rate_limited: 4 },
      rejected: [4, 5, 6, 7].map((seq) => ({ seq, code: 'rate_limited' })),
      retryFromSeq: 4,
      accepted: 3,
    });
    expect((await gw.driver(id)).json).toMatchObject({ seq: 3, lat: 52.03 });
    expect(await gw.metric('hexfleet_pings_rejected_total', { code: 'rate_limited' })).toBe(before + 4);
    expect(client.isOpen).toBe(true);

    // Each driver has its own bucket: another driver is served in full meanwhile.
    other.sendPings([ping(1), ping(2), ping(3)]);
    await other.waitForAck(3);
    expect(other.replies.filter((r) => r.type === 'error')).toEqual([]);

    // The bucket emptied when the server read the frame, before it acked; at
    // 1 ping/s it holds a token again 1 s later. Wait on the clock for that
    // (not a fixed sleep), then the client resends on the same connection.
    await waitFor(() => Date.now() >= ackedAt + 1000, { what: 'the rate-limit bucket to refill' });
    client.sendPings([ping(4, { lat: 52.04 })]);
    await client.waitForAck(4);
    expect((await gw.driver(id)).json).toMatchObject({ seq: 4, lat: 52.04 });
    expect(client.isOpen).toBe(true);
  });
});

describe('driver stream: misbehaving clients do not disturb others', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start({ HEXFLEET_BAD_FRAME_LIMIT: '3', HEXFLEET_MAX_FRAME_BYTES: '1024' });
  });

  it(`closes a client that keeps sending garbage with ${CloseCodes.protocol_violation.code} while another driver keeps streaming`, async () => {
    const goodId = uniqueDriverId('good');
    const good = await gw.connectDriver(goodId, 'msgpack');
    const badId = uniqueDriverId('bad');
    const bad = await gw.connectDriver(badId);
    let seq = 0;
    // Limit 3: frames 1-3 are answered; the 4th is answered and closes the socket.
    for (let i = 1; i <= 4; i++) {
      bad.sendRaw(`garbage #${i}`, false);
      good.sendPings([ping(++seq)]);
      await good.waitForAck(seq);
    }
    const closed = await bad.closed;
    expect(closed).toEqual({ code: 4400, reason: 'protocol_violation' });
    expect(bad.replies.every((r) => r.type === 'error' && r.code === 'malformed_frame')).toBe(true);
    expect(bad.replies.length).toBeGreaterThanOrEqual(3);

    for (let i = 0; i < 3; i++) {
      good.sendPings([ping(++seq), ping(++seq)]);
      await good.waitForAck(seq);
    }
    expect(good.isOpen).toBe(true);
    expect(good.replies.filter((r) => r.type === 'error')).toEqual([]);
    expect((await gw.driver(goodId)).json.seq).toBe(seq);
    expect((await gw.driver(badId)).status).toBe(404);
    expect(await gw.metric('hexfleet_driver_disconnects_total', { reason: 'protocol_violation' })).toBe(1);
  });

  it.each([2048, 256 * 1024])('closes the socket that sends a frame larger than HEXFLEET_MAX_FRAME_BYTES (%i bytes of padding), and only that one', async (padding) => {
    const goodId = uniqueDriverId('good');
    const good = await gw.connectDriver(goodId);
    const bigId = uniqueDriverId('big');
    const big = await gw.connectDriver(bigId, 'msgpack');
    good.sendPings([ping(1)]);
    await good.waitForAck(1);

    // A well-formed frame, over the 1 KiB limit.
    big.sendPings([ping(1, { pad: 'x'.repeat(padding) })]);
    const closed = await big.closed;
    // Observed: uWebSockets.js drops the TCP connection without a close frame,
    // so the client sees 1006 (abnormal closure), not the 1009 one might expect;
    // CloseCodes.frame_too_large documents 1006.
    expect(closed.code).toBe(1006);
    expect(CloseCodes.frame_too_large.code).toBe(closed.code);
    expect(big.replies).toEqual([]);

    good.sendPings([ping(2), ping(3)]);
    await good.waitForAck(3);
    expect(good.isOpen).toBe(true);
    expect((await gw.driver(goodId)).json.seq).toBe(3);
    expect((await gw.driver(bigId)).status).toBe(404);

    // A frame just under the limit is fine.
    const next = await gw.connectDriver(uniqueDriverId('fits'));
    next.sendPings([ping(1, { pad: 'x'.repeat(700) })]);
    await next.waitForAck(1);
  });
});

describe('driver stream: token expiry during a connection', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start();
  });

  it(`closes the socket with ${CloseCodes.token_expired.code} on the first frame after the token expired`, async () => {
    const id = uniqueDriverId();
    // exp has a 1 s resolution: 4 s leaves at least 3 s for the upgrade on a busy machine.
    const jwt = await gw.token('driver', id, 4);
    const { expiresAt } = gw.tokens.verify(jwt, ['driver']);
    const client = await gw.connect({ queryToken: jwt });
    expect(client.isOpen).toBe(true);

    // Waits on the clock, not for a fixed time: as soon as the token is past its exp.
    await waitFor(() => Date.now() >= expiresAt! + 1, { what: 'the token to expire' });
    client.sendPings([ping(1)]);
    expect(await client.closed).toEqual({ code: 4401, reason: 'token_expired' });
    expect(client.replies).toEqual([]);
    expect((await gw.driver(id)).status).toBe(404);
  });
});

/** Yields one event-loop turn (the check phase), so polling can run between I/O and the pipeline's flush. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('driver stream: graceful shutdown', () => {
  it('acks every accepted batch, then closes every driver socket with 1001', async () => {
    const gw = await TestGateway.start();
    const jsonClient = await gw.connectDriver(uniqueDriverId());
    const packClient = await gw.connectDriver(uniqueDriverId(), 'msgpack');
    const idle = await gw.connectDriver(uniqueDriverId());
    const frames = 30;
    for (let seq = 1; seq <= frames; seq++) {
      jsonClient.sendPings([ping(seq)]);
      packClient.sendPings([ping(seq)]);
    }

    // Close as soon as the gateway has accepted a frame, checking on every
    // event-loop turn: this lands before the ingest pipeline flushes (it
    // flushes on setImmediate), so at least one batch is pending at close().
    const received = async () => (await gw.gateway.metrics.pingsReceived.get()).values[0]?.value ?? 0;
    const deadline = Date.now() + 20_000;
    while ((await received()) === 0) {
      if (Date.now() > deadline) throw new Error('the gateway received no frame');
      await nextTurn();
    }
    const receivedAtClose = await received();
    const appliedAtClose = (await gw.gateway.metrics.pingsApplied.get()).values[0]?.value ?? 0;
    await gw.gateway.close();

    const closes = await Promise.all([jsonClient.closed, packClient.closed, idle.closed]);
    expect(closes.map((c) => c.code)).toEqual([1001, 1001, 1001]);
    expect(closes[0]!.reason).toBe('going_away');

    // Every frame was answered by an ack or by shutting_down (accepted after
    // the pipeline closed), in order, before the close frame; none was lost
    // once accepted: applied pings = acked pings.
    let acked = 0;
    for (const client of [jsonClient, packClient]) {
      const acks = client.replies.filter((r) => r.type === 'ack').map((r) => r.seq!);
      const others = client.replies.filter((r) => r.type !== 'ack');
      expect(others.every((r) => r.type === 'error' && r.code === 'shutting_down')).toBe(true);
      expect(acks).toEqual(acks.map((_, i) => i + 1));
      acked += acks.length;
    }
    expect(acked).toBeGreaterThanOrEqual(receivedAtClose);
    // close() was called with accepted pings not yet stored nor acked.
    expect(appliedAtClose).toBeLessThan(receivedAtClose);
    expect((await gw.gateway.metrics.pingsApplied.get()).values[0]?.value).toBe(acked);
    expect(idle.replies).toEqual([]);

    // The gateway no longer listens.
    await expect(fetch(`${gw.httpUrl}/healthz`)).rejects.toThrow();
    await gw.stop();
  });

  it('is idempotent and leaves nothing behind without clients', async () => {
    const gw = await TestGateway.start();
    expect(await gw.metric('hexfleet_driver_connections')).toBe(0);
    await gw.gateway.close();
    await gw.gateway.close();
    await gw.stop();
  });
});
