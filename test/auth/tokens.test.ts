import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeBase64url } from '../../src/auth/base64url.js';
import { parseJwks } from '../../src/auth/jwks-keys.js';
import { checkMfa, DEFAULT_MFA_POLICY } from '../../src/auth/mfa.js';
import { RevocationList } from '../../src/auth/revocation-list.js';
import { type Principal, TokenError, TokenService } from '../../src/auth/tokens.js';

const SECRET = 'unit-test-secret-0123456789abcdefghijkl';
const key = new TextEncoder().encode(SECRET);
const nowS = () => Math.floor(Date.now() / 1000);

/** The code of the TokenError `fn` throws (fails when it throws nothing). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('accepted');
}

describe('base64url', () => {
  it.each([
    ['canonical', 'AQID', true],
    ['unpadded 2 bytes', 'AQI', true],
    ['padded', 'AQI=', false],
    ['standard alphabet', 'a+/b', false],
    ['non-zero trailing bits (AQJ decodes like AQI)', 'AQJ', false],
    ['impossible length 4n+1', 'AQIDB', false],
    ['whitespace', 'AQ ID', false],
  ])('%s: %s → accepted %s', (_name, s, ok) => {
    expect(decodeBase64url(s) !== undefined).toBe(ok);
  });
});

describe('TokenService (HS256)', () => {
  const tokens = new TokenService(SECRET);

  it('mints every token with iat, exp within its role lifetime, and a jti', async () => {
    const p = tokens.verify(await tokens.sign({ role: 'admin', sub: 'ops-1' }), ['admin']);
    expect(p.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.expiresAt - p.issuedAt!).toBe(3600_000);
  });

  it('refuses a second string for the same signature (padding, flipped trailing bits)', async () => {
    const jwt = await tokens.sign({ role: 'driver', sub: 'd1' });
    const [h, p, s] = jwt.split('.') as [string, string, string];
    expect(codeOf(() => tokens.verify(`${h}.${p}.${s}=`, ['driver']))).toMatch(/^unauthorized: the token is malformed/);
    // The last character of a 43-character signature carries 2 unused bits: a sibling decodes to the same bytes.
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(s.slice(0, -1) + sibling, 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    expect(codeOf(() => tokens.verify(`${h}.${p}.${s.slice(0, -1)}${sibling}`, ['driver']))).toMatch(/^unauthorized: the token is malformed/);
  });

  it.each([
    ['no exp', () => new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS256' }).setSubject('d1').setIssuedAt().sign(key), /no exp claim/],
    ['a driver token of 25 h', () => new SignJWT({ role: 'driver' }).setProtectedHeader({ alg: 'HS256' }).setSubject('d1').setIssuedAt().setExpirationTime(nowS() + 25 * 3600).sign(key), /lives longer than a driver token/],
    ['an admin token of 2 h without iat (exp − now)', () => new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime(nowS() + 7200).sign(key), /lives longer than a admin token/],
    ['an iat in the future (to shorten exp − iat)', () => new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setIssuedAt(nowS() + 86_400).setExpirationTime(nowS() + 86_400 + 60).sign(key), /issued in the future/],
    ['an RS256 header on an HS256 token', async () => {
      const [, p, s] = (await tokens.sign({ role: 'driver', sub: 'd1' })).split('.');
      return `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k' })).toString('base64url')}.${p}.${s}`;
    }, /malformed or badly signed/],
  ])('refuses %s', async (_name, make, message) => {
    const jwt = await make();
    expect(codeOf(() => tokens.verify(jwt, ['driver', 'admin']))).toMatch(message);
  });

  it('checks expiry and revocation on a cached token too', async () => {
    const revocations = new RevocationList();
    const t = new TokenService({ secret: SECRET, revocations });
    const jwt = await t.sign({ role: 'driver', sub: 'd9', ttlS: 60 });
    const p = t.verify(jwt, ['driver']);
    expect(t.verify(jwt, ['driver'])).toBe(p); // the cached principal
    expect(codeOf(() => t.verify(jwt, ['driver'], p.expiresAt))).toMatch(/^unauthorized: the token has expired/);
    revocations.add({ kind: 'jti', value: p.jti!, at: Date.now(), until: Date.now() + 60_000, keepUntil: Date.now() + 60_000, by: 'ops' });
    expect(codeOf(() => t.verify(jwt, ['driver']))).toMatch(/^token_revoked/);
  });

  it('revoking a subject refuses its tokens issued before until, not the ones minted after', async () => {
    const revocations = new RevocationList();
    const t = new TokenService({ secret: SECRET, revocations });
    const old = t.verify(await t.sign({ role: 'driver', sub: 'd7' }), ['driver']);
    const now = Date.now();
    revocations.add({ kind: 'sub', value: 'd7', at: now, until: now, keepUntil: now + 86_400_000, by: 'ops' });
    expect(revocations.revoking(old, now)).toBeDefined();
    const fresh: Principal = { ...old, issuedAt: now + 1000 };
    expect(revocations.revoking(fresh, now + 1000)).toBeUndefined();
  });
});

describe('JWKS keys', () => {
  const log = pino({ level: 'silent' });
  it('binds each key to the one algorithm of its type and skips oct and foreign keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const keys = parseJwks(JSON.stringify({ keys: [
      { ...rsa, kid: 'r' }, { ...ec, kid: 'e' }, { ...ed, kid: 'd' }, { ...p384, kid: 'p384' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'o' }, { ...rsa, kid: 'enc', use: 'enc' }, { ...ec, kid: 'lies', alg: 'RS256' },
    ] }), log);
    expect([...keys.values()].map((k) => [k.kid, k.alg])).toEqual([['r', 'RS256'], ['e', 'ES256'], ['d', 'EdDSA']]);
  });
});

describe('checkMfa', () => {
  const base: Principal = { role: 'admin', sub: 'ops', expiresAt: Date.now() + 60_000 };
  const now = Date.now();
  it.each([
    ['no amr', base, false],
    ['a password only', { ...base, amr: ['pwd'], authTime: now }, false],
    ['otp without auth_time', { ...base, amr: ['pwd', 'otp'] }, false],
    ['otp two hours ago', { ...base, amr: ['otp'], authTime: now - 7_200_000 }, false],
    ['hwk just now', { ...base, amr: ['hwk'], authTime: now }, true],
    ['mfa 59 min ago', { ...base, amr: ['mfa'], authTime: now - 59 * 60_000 }, true],
  ] as const)('%s → %s', (_name, p, ok) => {
    if (ok) expect(() => checkMfa(p, DEFAULT_MFA_POLICY, now)).not.toThrow();
    else expect(codeOf(() => checkMfa(p, DEFAULT_MFA_POLICY, now))).toMatch(/^mfa_required/);
  });
});
