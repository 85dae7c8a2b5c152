import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject, sign as rawSign } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens.js';
import { CloseCodes } from '../../src/protocol/error-codes.js';
import { closeAllClients, ping, startTestGateway, stopAllGateways, TEST_JWT_SECRET, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, type Reply } from '../support/raw-driver-client.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Tokens through the real interface: a gateway verifying RS256, ES256 and
 * EdDSA tokens from a JWKS served over HTTP by this test (rotation by kid,
 * the JWKS server down), the refusals and their codes, sockets closed at
 * their token's expiry, the in-band `auth` frame, and revocation with MFA on
 * one memory gateway (two gateways on Redis: revocation.redis.test.ts).
 */

/** The failed logins of these tests are deliberate: no address cool-off in their way. */
const NO_COOLOFF = { HEXFLEET_AUTH_FAILURE_BURST: '0' };
const ISSUER = 'https://issuer.hexfleet.test';
const AUDIENCE = 'hexfleet-test';
const nowS = (): number => Math.floor(Date.now() / 1000);

interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256' | 'EdDSA';
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function makeKey(kid: string, alg: TestKey['alg']): TestKey {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519');
  return { kid, alg, ...pair };
}

const jwkOf = (k: TestKey): object => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, use: 'sig' });

/** A JWKS over HTTP whose keys a test changes, and that it can stop (down) and count reads of. */
class JwksServer {
  keys: TestKey[];
  reads = 0;
  private server: Server | undefined;
  port = 0;

  constructor(keys: TestKey[]) {
    this.keys = keys;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.reads++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys.map(jwkOf) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A token signed by `key`, with iss/aud and an exp 10 minutes out unless `claims` says otherwise. */
function jwksToken(key: TestKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ role: 'service', iss: ISSUER, aud: AUDIENCE, iat: nowS(), exp: nowS() + 600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .setSubject('svc-jwks')
    .sign(key.privateKey);
}

const b64 = (v: object | Buffer): string => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

/** The answer of an authenticated GET: 404 means the token was accepted (the driver does not exist). */
async function getWith(port: number, token: string): Promise<{ status: number; code?: string; message?: string }> {
  const r = await httpRequest(port, 'GET', '/v1/drivers/nobody', { token });
  return { status: r.status, ...(r.json?.code ? { code: r.json.code, message: r.json.message } : {}) };
}

describe('tokens from a JWKS (RS256, ES256, EdDSA)', () => {
  const rsa = makeKey('rsa-1', 'RS256');
  const ec = makeKey('ec-1', 'ES256');
  const ed = makeKey('ed-1', 'EdDSA');
  const jwks = new JwksServer([rsa, ec, ed]);
  let gw: TestGateway;

  beforeAll(async () => {
    await jwks.start();
    gw = await startTestGateway('memory', {
      env: {
        ...NO_COOLOFF,
        HEXFLEET_JWKS_URL: jwks.url,
        HEXFLEET_JWKS_REFRESH_MS: '1000',
        HEXFLEET_JWKS_MIN_REFRESH_MS: '0',
        // Generous: the JWKS server shares this busy process with the gateway and the test.
        HEXFLEET_JWKS_TIMEOUT_MS: '5000',
        HEXFLEET_JWT_ISSUER: ISSUER,
        HEXFLEET_JWT_AUDIENCE: AUDIENCE,
      },
    });
  });
  afterAll(async () => {
    await stopAllGateways();
    await jwks.stop();
  });

  it.each([rsa, ec, ed])('accepts a $alg token of kid $kid', async (key) => {
    expect(await getWith(gw.port, await jwksToken(key))).toEqual({ status: 404, code: 'not_found', message: expect.any(String) });
  });

  const forgedBy = makeKey('rsa-1', 'RS256'); // same kid, another key
  const refusals: { name: string; token: () => Promise<string>; code: string; message: RegExp }[] = [
    { name: 'a signature by another key under a known kid', token: () => jwksToken(forgedBy), code: 'unauthorized', message: /badly signed/ },
    {
      name: 'alg confusion: HS256 keyed with the RSA public key',
      token: async () => new SignJWT({ role: 'service', iss: ISSUER, aud: AUDIENCE, exp: nowS() + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).setSubject('svc')
        .sign(new TextEncoder().encode(rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string)),
      code: 'unauthorized',
      message: /badly signed/,
    },
    {
      name: 'alg confusion: an ES256 signature under an RS256 header naming the EC key',
      token: async () => {
        const input = `${b64({ alg: 'RS256', kid: ec.kid })}.${b64({ role: 'service', sub: 'svc', iss: ISSUER, aud: AUDIENCE, exp: nowS() + 60 })}`;
        return `${input}.${b64(rawSign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }))}`;
      },
      code: 'unauthorized',
      message: /badly signed/,
    },
    {
      name: 'alg none',
      token: async () => `${b64({ alg: 'none', kid: rsa.kid })}.${b64({ role: 'service', sub: 'svc', exp: nowS() + 60 })}.`,
      code: 'unauthorized',
      message: /badly signed/,
    },
    {
      name: 'a non-canonical signature (padding)',
      token: async () => (await jwksToken(ed)) + '=',
      code: 'unauthorized',
      message: /malformed/,
    },
    {
      name: 'a non-canonical payload (standard base64 alphabet)',
      token: async () => {
        const [h, , s] = (await jwksToken(ed)).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ role: 'service', sub: 's?>', exp: nowS() + 60 })).toString('base64')}.${s}`;
      },
      code: 'unauthorized',
      message: /malformed/,
    },
    { name: 'an expired token', token: () => jwksToken(ec, { iat: nowS() - 120, exp: nowS() - 60 }), code: 'unauthorized', message: /expired/ },
    { name: 'a token without exp', token: () => jwksToken(ec, { exp: undefined }), code: 'unauthorized', message: /no exp claim/ },
    { name: 'a service token of 25 h', token: () => jwksToken(ec, { exp: nowS() + 25 * 3600 }), code: 'unauthorized', message: /lives longer than a service token may \(86400 s/ },
    { name: 'another issuer', token: () => jwksToken(rsa, { iss: 'https://evil.test' }), code: 'unauthorized', message: /issuer/ },
    { name: 'another audience', token: () => jwksToken(rsa, { aud: ['someone-else'] }), code: 'unauthorized', message: /audience/ },
  ];
  it.each(refusals)('refuses $name with 401 $code', async ({ token, code, message }) => {
    const r = await getWith(gw.port, await token());
    expect(r).toMatchObject({ status: 401, code });
    expect(r.message).toMatch(message);
  });

  it('rotates by kid without a restart: an unknown kid is refused with unknown_key (retry) and accepted once the JWKS has it; a removed kid stops verifying', async () => {
    const next = makeKey('rsa-2', 'RS256');
    const token = await jwksToken(next);
    const first = await getWith(gw.port, token);
    expect(first).toMatchObject({ status: 401, code: 'unknown_key' });
    jwks.keys = [next, ec, ed];
    // The refusal asked for a read; the retry the code advises succeeds once it ran.
    await waitFor(async () => (await getWith(gw.port, token)).status === 404, { what: 'the new kid to verify' });
    const old = await jwksToken(rsa);
    await waitFor(async () => (await getWith(gw.port, old)).code === 'unknown_key', { what: 'the removed kid to stop verifying' });
    jwks.keys = [rsa, next, ec, ed];
  });

  it('keeps accepting tokens of a held kid while the JWKS server is down, and refuses unknown kids with unknown_key', async () => {
    const held = await jwksToken(ed);
    expect((await getWith(gw.port, held)).status).toBe(404);
    await jwks.stop();
    try {
      const unknown = await jwksToken(makeKey('ed-9', 'EdDSA'));
      // Each refusal asks for a read that fails (connection refused): the held keys stay.
      for (let i = 0; i < 5; i++) expect(await getWith(gw.port, unknown)).toMatchObject({ status: 401, code: 'unknown_key' });
      const readsBefore = jwks.reads;
      await waitFor(async () => (await getWith(gw.port, await jwksToken(ed))).status === 404, { what: 'a fresh token of the held kid' });
      expect(jwks.reads).toBe(readsBefore);
      expect((await getWith(gw.port, held)).status).toBe(404);
    } finally {
      await jwks.start(); // the same port: the gateway reads it again
    }
  });
});

/** A memory gateway (HS256, no cool-off) for the block's tests: started before them, its clients closed after each, stopped after all. */
function memoryGateway(): () => TestGateway {
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    gw = await startTestGateway('memory', { env: NO_COOLOFF });
  });
  afterEach(() => closeAllClients());
  afterAll(() => stopAllGateways());
  return () => gw!;
}

describe('sockets and the token they opened with', () => {
  const gateway = memoryGateway();
  let gw: TestGateway;
  beforeAll(() => {
    gw = gateway();
  });

  const expOf = (jwt: string): number => gw.tokens.verify(jwt, ['driver', 'customer', 'tracker', 'admin', 'service']).expiresAt;

  for (const endpoint of ['driver', 'track'] as const) {
    it(`closes a quiet ${endpoint} socket at its token's expiry with ${CloseCodes.token_expired.code}, never before`, async () => {
      const jwt = endpoint === 'driver'
        ? await gw.token('driver', uniqueDriverId(), 3)
        : await gw.tokens.sign({ role: 'customer', sub: 'cust-1', orders: ['o-1'], ttlS: 3 });
      const exp = expOf(jwt);
      const client = await RawDriverClient.open(`ws://127.0.0.1:${gw.port}/v1/${endpoint}`, { queryToken: jwt });
      gw.clients.add(client);
      const closed = await client.closed;
      const at = Date.now();
      expect(closed).toEqual({ code: 4401, reason: 'token_expired' });
      expect(at).toBeGreaterThanOrEqual(exp);
      expect(client.replies).toEqual([]);
    });
  }

  for (const encoding of ['json', 'msgpack'] as const) {
    it(`extends a driver socket with an auth frame (${encoding}): acked with auth_ok, and it outlives the first token`, async () => {
      const id = uniqueDriverId();
      const first = await gw.token('driver', id, 3);
      const client = await gw.connect({ queryToken: first, encoding });
      const fresh = await gw.token('driver', id, 120);
      client.send({ type: 'auth', token: fresh });
      const ok = await client.waitForReply((r) => r.type === 'auth_ok', 'auth_ok');
      expect(ok).toMatchObject({ type: 'auth_ok', expiresAt: expOf(fresh), binary: encoding === 'msgpack' });
      // Past the first token's expiry (and a sweep), the socket still works.
      const firstExp = expOf(first);
      await waitFor(() => Date.now() >= firstExp + 1500, { what: 'the first token to be past its exp' });
      expect(client.isOpen).toBe(true);
      expect(await client.sendBatch([ping(1)])).toMatchObject({ type: 'ack', seq: 1 });
    });
  }

  it('refuses an auth frame of another identity (token_mismatch) or an invalid token, and keeps the old expiry', async () => {
    const id = uniqueDriverId();
    const first = await gw.token('driver', id, 4);
    const firstExp = expOf(first);
    const client = await gw.connect({ queryToken: first });
    const answers: Reply[] = [];
    for (const token of [await gw.token('driver', 'someone-else', 120), (await gw.token('driver', id, 120)).slice(0, -3) + 'AAA', await gw.token('service', id, 120)]) {
      client.send({ type: 'auth', token });
      answers.push(await client.nextReply((r) => r.type === 'error', 'the refusal'));
    }
    expect(answers.map((a) => a.code)).toEqual(['token_mismatch', 'unauthorized', 'forbidden']);
    expect(await client.closed).toEqual({ code: 4401, reason: 'token_expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(firstExp);
  });

  it('extends a tracking socket with an auth frame', async () => {
    const first = await gw.tokens.sign({ role: 'customer', sub: 'cust-2', orders: ['o-2'], ttlS: 3 });
    const client = await RawDriverClient.open(`ws://127.0.0.1:${gw.port}/v1/track`, { queryToken: first });
    gw.clients.add(client);
    client.send({ type: 'auth', token: await gw.tokens.sign({ role: 'customer', sub: 'cust-2', orders: ['o-2'], ttlS: 120 }) });
    await client.waitForReply((r) => r.type === 'auth_ok', 'auth_ok');
    const firstExp = expOf(first);
    await waitFor(() => Date.now() >= firstExp + 1500, { what: 'the first token to be past its exp' });
    expect(client.isOpen).toBe(true);
  });
});

describe('revocation and MFA on one gateway', () => {
  const gateway = memoryGateway();
  let gw: TestGateway;
  beforeAll(() => {
    gw = gateway();
  });

  const revoke = async (body: unknown, token?: string) =>
    httpRequest(gw.port, 'POST', '/v1/admin/revocations', { token: token ?? await gw.token('admin', 'ops-1'), body });

  it('refuses an admin without a recent second factor with 403 mfa_required', async () => {
    const noMfa = await gw.tokens.sign({ role: 'admin', sub: 'ops-2' });
    const stale = await gw.tokens.sign({ role: 'admin', sub: 'ops-3', amr: ['pwd', 'otp'], authTimeS: nowS() - 7200 });
    for (const token of [noMfa, stale]) {
      const r = await revoke({ jti: 'x' }, token);
      expect([r.status, r.json.code]).toEqual([403, 'mfa_required']);
    }
    expect((await revoke({ jti: 'x' }, await gw.token('service', 'svc'))).status).toBe(403);
  });

  it.each([
    [{}, /exactly one of jti/],
    [{ jti: 'a', sub: 'b' }, /exactly one of jti/],
    [{ jti: '' }, /jti must be/],
    [{ sub: 'd', until: 'tomorrow' }, /until must be/],
    [{ jti: 'a', until: 1 }, /until applies to a subject/],
  ])('refuses the body %j with 400 invalid_body', async (body, message) => {
    const r = await revoke(body);
    expect([r.status, r.json.code]).toEqual([400, 'invalid_body']);
    expect(r.json.message).toMatch(message);
  });

  it('revokes one token by jti: its socket closes with 4403, HTTP answers 401 token_revoked, other tokens of the subject work, and GET lists it', async () => {
    const id = uniqueDriverId();
    const jwt = await gw.token('driver', id);
    const victim = await gw.connect({ queryToken: jwt });
    const other = await gw.connectDriver(id);
    const jti = gw.tokens.verify(jwt, ['driver']).jti!;
    const r = await revoke({ jti });
    expect(r.status).toBe(200);
    expect(r.json.revocation).toMatchObject({ kind: 'jti', value: jti, by: 'ops-1' });
    expect(await victim.closed).toEqual({ code: CloseCodes.token_revoked.code, reason: 'token_revoked' });
    expect(other.isOpen).toBe(true);
    const svc = await gw.token('service', 'svc-revoked');
    expect((await gw.get('/v1/drivers/nobody', svc)).status).toBe(404);
    await revoke({ jti: gw.tokens.verify(svc, ['service']).jti });
    const refused = await gw.get('/v1/drivers/nobody', svc);
    expect([refused.status, refused.json.code]).toEqual([401, 'token_revoked']);
    const list = await httpRequest(gw.port, 'GET', '/v1/admin/revocations', { token: await gw.token('admin', 'ops-1') });
    expect(list.json.revocations.map((x: { value: string }) => x.value)).toEqual(expect.arrayContaining([jti]));
  });

  it('revokes a subject: every socket of it closes, tokens issued before are refused, one minted after works', async () => {
    const id = uniqueDriverId();
    const sockets = [await gw.connectDriver(id), await gw.connectDriver(id, 'msgpack')];
    const r = await revoke({ sub: id });
    expect(r.status).toBe(200);
    for (const s of sockets) expect((await s.closed).code).toBe(4403);
    // A token minted in the revocation's second has an iat (whole seconds) before it: wait for the next second.
    const until = r.json.revocation.until as number;
    await waitFor(() => Date.now() >= (Math.floor(until / 1000) + 1) * 1000, { what: 'the second after the revocation' });
    const after = await gw.connectDriver(id);
    expect(await after.sendBatch([ping(1)])).toMatchObject({ type: 'ack', seq: 1 });
  });

  it('suspends a subject until a future time: fresh tokens are refused with token_revoked until then', async () => {
    const id = uniqueDriverId();
    const r = await revoke({ sub: id, until: Date.now() + 3_600_000 });
    expect(r.status).toBe(200);
    const refused = await gw.connect({ queryToken: await gw.token('driver', id) }).then(() => 'opened', (e: { status: number; body: string }) => [e.status, JSON.parse(e.body).code]);
    expect(refused).toEqual([401, 'token_revoked']);
  });
});

describe('verification checks that need no gateway', () => {
  it('mints only tokens the same service accepts (secret shared with the gateways)', async () => {
    const t = new TokenService(TEST_JWT_SECRET);
    expect(t.verify(await t.sign({ role: 'tracker', sub: 'o-1' }), ['tracker']).expiresAt).toBeGreaterThan(Date.now());
  });
});
