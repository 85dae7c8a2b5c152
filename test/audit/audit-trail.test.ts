import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MatchApi, OfferDriver } from '../support/dispatch-client.js';
import { startTestGateway, TEST_JWT_SECRET, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, UpgradeRefused } from '../support/raw-driver-client.js';
import { waitFor } from '../support/wait-for.js';

/** One parsed audit line. */
type Line = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'hexfleet-audit-'));
const file = join(dir, 'audit.log');
const lines = (): Line[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
const find = (pred: (l: Line) => boolean): Line[] => lines().filter(pred);
/** Waits until exactly one line matches, and returns it (the trail is written as things happen, not on request). */
async function one(what: string, pred: (l: Line) => boolean): Promise<Line> {
  await waitFor(() => find(pred).length >= 1, { what: `audit line: ${what}`, timeoutMs: 10_000 });
  const found = find(pred);
  expect(found, what).toHaveLength(1);
  return found[0]!;
}
const action = (a: string) => (l: Line) => l.event?.action === a;
const BERLIN = { lat: 52.52, lng: 13.405 };

/** Fields every line carries. */
function expectCommon(l: Line): void {
  expect(new Date(l['@timestamp']).toISOString()).toBe(l['@timestamp']);
  expect(typeof l.gateway?.id).toBe('string');
  expect(['success', 'failure']).toContain(l.event.outcome);
}

/**
 * The audit trail through a real gateway (in this process, memory engine,
 * HEXFLEET_AUDIT_LOG=<file>): every kind of event appears once with its
 * fields; no token and no secret ever does.
 */
describe('audit trail (file sink)', () => {
  let gw: TestGateway;
  let api: MatchApi;
  const minted: string[] = [];
  const token = async (claims: Parameters<TestGateway['tokens']['sign']>[0]): Promise<string> => {
    const t = await gw.tokens.sign(claims);
    minted.push(t);
    return t;
  };

  beforeAll(async () => {
    gw = await startTestGateway('memory', {
      env: {
        HEXFLEET_AUDIT_LOG: file,
        HEXFLEET_BAD_FRAME_LIMIT: '3',
        HEXFLEET_RATE_PINGS_PER_SEC: '1',
        HEXFLEET_RATE_BURST: '3',
        // Bursts are the other suite's: here every failure must stay one auth.rejected line.
        HEXFLEET_AUTH_FAILURE_BURST: '0',
      },
    });
    api = new MatchApi(gw.port, await token({ role: 'service', sub: 'order-service' }));
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the configuration at start, secrets only as (set)', async () => {
    const l = await one('config.start', action('config.start'));
    expectCommon(l);
    expect(l.hexfleet.config.HEXFLEET_JWT_SECRET).toBe('(set)');
    expect(l.hexfleet.config.HEXFLEET_AUDIT_LOG).toBe(file);
    expect(l.hexfleet.config.HEXFLEET_BAD_FRAME_LIMIT).toBe(3);
    expect(l.hexfleet.port).toBe(gw.port);
  });

  it('records every rejected authentication with its reason (HTTP and WebSocket upgrade)', async () => {
    expect((await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1')).status).toBe(401);
    const noToken = await one('no token', (l) => l.event.action === 'auth.rejected' && l.event.reason === 'no_token');
    expectCommon(noToken);
    expect(noToken).toMatchObject({ event: { outcome: 'failure' }, url: { path: '/v1/drivers/nearby' }, http: { request: { method: 'get' }, response: { status_code: 401 } } });
    expect(noToken.source.ip).toMatch(/127\.0\.0\.1/);

    const forged = await new SignJWT({ role: 'service' }).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory').setIssuedAt().setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters!'));
    minted.push(forged);
    expect((await httpRequest(gw.port, 'POST', '/v1/match', { token: forged, body: {} })).status).toBe(401);
    const bad = await one('bad signature', (l) => l.event.action === 'auth.rejected' && l.event.reason === 'bad_signature');
    expect(bad).toMatchObject({ user: { id: 'mallory', roles: ['service'] }, url: { path: '/v1/match' } });

    const expired = await new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS256' }).setSubject('drv-expired')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(TEST_JWT_SECRET));
    minted.push(expired);
    await expect(RawDriverClient.open(gw.driverUrl, { queryToken: expired })).rejects.toBeInstanceOf(UpgradeRefused);
    const ws = await one('expired upgrade', (l) => l.event.action === 'auth.rejected' && l.event.reason === 'expired');
    expect(ws).toMatchObject({ url: { path: '/v1/driver' }, user: { id: 'drv-expired', roles: ['driver'] } });
    expect(ws.source.ip).toMatch(/127\.0\.0\.1/);

    await expect(RawDriverClient.open(gw.driverUrl, { queryToken: 'not.a-token' })).rejects.toBeInstanceOf(UpgradeRefused);
    await one('malformed upgrade', (l) => l.event.action === 'auth.rejected' && l.event.reason === 'malformed' && l.url.path === '/v1/driver');

    // One message for the client, a finer reason for the trail.
    const early = await new SignJWT({ role: 'service' }).setProtectedHeader({ alg: 'HS256' }).setSubject('svc-early').setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) + 600).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_JWT_SECRET));
    minted.push(early);
    const refused = await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: early });
    expect(refused.json).toMatchObject({ code: 'unauthorized', message: 'the token is malformed or badly signed' });
    await one('not yet valid', (l) => l.event.reason === 'not_yet_valid' && l.user?.id === 'svc-early');
    const [, p, sig] = early.split('.');
    const rs256 = [Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url'), p, sig].join('.');
    expect((await httpRequest(gw.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: rs256 })).status).toBe(401);
    await one('bad algorithm', (l) => l.event.reason === 'bad_algorithm');
  });

  it('records a refused auth frame (a token that does not extend the socket) by the socket\'s driver', async () => {
    const driverId = uniqueDriverId();
    const client = await gw.connect({ queryToken: await token({ role: 'driver', sub: driverId }) });
    const stale = await new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS256' }).setSubject(driverId)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(TEST_JWT_SECRET));
    minted.push(stale);
    client.send({ type: 'auth', token: stale });
    await client.waitForReply((r) => r.type === 'error', 'the refusal of the auth frame');
    const l = await one('auth frame', (x) => x.event.action === 'auth.rejected' && x.frame?.type === 'auth');
    expect(l).toMatchObject({ event: { reason: 'expired' }, user: { id: driverId, roles: ['driver'] }, url: { path: '/v1/driver' } });
  });

  it('records a forbidden action with the actor', async () => {
    const driverToken = await token({ role: 'driver', sub: 'drv-nosy' });
    expect((await api.cancel('o-not-mine', driverToken)).status).toBe(403);
    const l = await one('authz.denied', action('authz.denied'));
    expectCommon(l);
    expect(l).toMatchObject({ event: { outcome: 'failure', reason: 'forbidden' }, user: { id: 'drv-nosy', roles: ['driver'] }, url: { path: '/v1/orders/o-not-mine/cancel' }, order: { id: 'o-not-mine' } });
  });

  it('records an admin action', async () => {
    const admin = await token({ role: 'admin', sub: 'ops-alice', amr: ['pwd', 'otp'], authTimeS: Math.floor(Date.now() / 1000) });
    expect((await httpRequest(gw.port, 'GET', `/v1/drivers/nearby?lat=${BERLIN.lat}&lng=${BERLIN.lng}`, { token: admin })).status).toBe(200);
    const l = await one('admin.request', action('admin.request'));
    expectCommon(l);
    expect(l).toMatchObject({ event: { outcome: 'success' }, user: { id: 'ops-alice', roles: ['admin'] }, url: { path: '/v1/drivers/nearby' }, http: { response: { status_code: 200 } } });
  });

  it('records a match, the offer reply, a completion and a cancel, each with its actor', async () => {
    const driverId = uniqueDriverId();
    const driver = new OfferDriver(driverId, await gw.connect({ queryToken: await token({ role: 'driver', sub: driverId }) }));
    await driver.ping(BERLIN, { status: 'available' });
    const matched = await api.match({ orderId: 'o-audit-1', pickup: BERLIN });
    expect(matched.status).toBe(200);
    expect((await driver.answerOffer('o-audit-1', true)).state).toBe('accepted');
    expect((await api.complete('o-audit-1')).status).toBe(200);
    expect((await api.cancel('o-audit-missing')).status).not.toBe(200);

    const m = await one('order.match', action('order.match'));
    expectCommon(m);
    expect(m).toMatchObject({ event: { outcome: 'success' }, user: { id: 'order-service', roles: ['service'] }, order: { id: 'o-audit-1' }, url: { path: '/v1/match' } });
    const accept = await one('offer.accept', action('offer.accept'));
    expect(accept).toMatchObject({ event: { outcome: 'success' }, user: { id: driverId, roles: ['driver'] }, order: { id: 'o-audit-1' }, frame: { type: 'offer_reply' }, url: { path: '/v1/driver' } });
    expect(accept.source.ip).toMatch(/127\.0\.0\.1/);
    const done = await one('order.complete', action('order.complete'));
    expect(done).toMatchObject({ event: { outcome: 'success' }, user: { id: 'order-service' }, order: { id: 'o-audit-1' } });
    const cancel = await one('order.cancel', action('order.cancel'));
    expect(cancel).toMatchObject({ event: { outcome: 'failure' }, user: { id: 'order-service' }, order: { id: 'o-audit-missing' } });
    expect(typeof cancel.event.reason).toBe('string');
  });

  it('records token minting over HTTP with the order and the token id, never the token', async () => {
    const r = await httpRequest(gw.port, 'POST', '/v1/orders/o-audit-1/tracking-token', { token: api.token });
    expect(r.status).toBe(200);
    minted.push(r.json.token);
    const jti = JSON.parse(Buffer.from(r.json.token.split('.')[1], 'base64url').toString()).jti;
    const l = await one('token.mint', action('token.mint'));
    expectCommon(l);
    expect(l).toMatchObject({ event: { outcome: 'success' }, user: { id: 'order-service', roles: ['service'] }, order: { id: 'o-audit-1' }, target: { type: 'token', id: jti } });
  });

  it('records a rate-limit trip once, and an abuse close', async () => {
    const driverId = uniqueDriverId();
    const client = await gw.connect({ queryToken: await token({ role: 'driver', sub: driverId }) });
    const now = Date.now();
    for (let i = 0; i < 3; i++) client.sendPings(Array.from({ length: 10 }, (_, k) => ({ seq: i * 10 + k + 1, ...BERLIN, ts: now })));
    const trip = await one('rate_limit.tripped', action('rate_limit.tripped'));
    expectCommon(trip);
    expect(trip).toMatchObject({ event: { outcome: 'failure', reason: 'rate_limited' }, user: { id: driverId, roles: ['driver'] }, frame: { type: 'pings' } });

    const abuser = await gw.connect({ queryToken: await token({ role: 'driver', sub: 'drv-abuser' }) });
    for (let i = 0; i < 5; i++) abuser.sendRaw('{not json', false);
    expect((await abuser.closed).code).toBe(4400);
    const closed = await one('connection.abuse_closed', action('connection.abuse_closed'));
    expectCommon(closed);
    expect(closed).toMatchObject({ event: { reason: 'protocol_violation' }, user: { id: 'drv-abuser', roles: ['driver'] }, url: { path: '/v1/driver' } });
  });

  it('records a revocation with what it names, and an admin\'s tracking frame', async () => {
    const admin = await token({ role: 'admin', sub: 'ops-bob', amr: ['hwk'], authTimeS: Math.floor(Date.now() / 1000) });
    const victim = await token({ role: 'driver', sub: 'drv-revoked' });
    const jti = JSON.parse(Buffer.from(victim.split('.')[1]!, 'base64url').toString()).jti as string;
    expect((await httpRequest(gw.port, 'POST', '/v1/admin/revocations', { token: admin, body: { jti } })).status).toBe(200);
    const revoke = await one('token.revoke', action('token.revoke'));
    expectCommon(revoke);
    expect(revoke).toMatchObject({ event: { outcome: 'success' }, user: { id: 'ops-bob', roles: ['admin'] }, target: { type: 'token', id: jti }, url: { path: '/v1/admin/revocations' } });

    const watcher = await RawDriverClient.open(`ws://127.0.0.1:${gw.port}/v1/track`, { queryToken: admin });
    try {
      watcher.send({ type: 'subscribe_area', bbox: [13.3, 52.4, 13.5, 52.6] });
      const frame = await one('admin frame', (l) => l.event.action === 'admin.request' && l.frame?.type === 'subscribe_area');
      expect(frame).toMatchObject({ user: { id: 'ops-bob', roles: ['admin'] }, url: { path: '/v1/track' }, hexfleet: { bbox: [13.3, 52.4, 13.5, 52.6] } });
    } finally {
      await watcher.terminate();
    }
  });

  it('records a watcher denied an order it does not cover', async () => {
    const customer = await token({ role: 'customer', sub: 'cust-1', orders: ['o-mine'] });
    const watcher = await RawDriverClient.open(`ws://127.0.0.1:${gw.port}/v1/track`, { queryToken: customer });
    try {
      watcher.send({ type: 'subscribe', orderId: 'o-someone-elses' });
      const l = await one('not_allowed', (x) => x.event.action === 'authz.denied' && x.event.reason === 'not_allowed');
      expect(l).toMatchObject({ user: { id: 'cust-1', roles: ['customer'] }, order: { id: 'o-someone-elses' }, url: { path: '/v1/track' } });
    } finally {
      await watcher.terminate();
    }
  });

  it('never writes a token or the secret', async () => {
    // Every request above has been answered; the file sink writes synchronously.
    const text = readFileSync(file, 'utf8');
    expect(minted.length).toBeGreaterThan(5);
    for (const t of minted) {
      expect(text).not.toContain(t);
      expect(text).not.toContain(t.split('.')[2]);
    }
    expect(text).not.toContain(TEST_JWT_SECRET);
    for (const l of lines()) expectCommon(l);
  });
});
