import { createHmac, randomUUID, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import { SignJWT } from 'jose';
import { isVehicleType, type VehicleType } from '../domain/vehicle.js';
import { decodeBase64url } from './base64url.js';
import type { JwksKeys } from './jwks-keys.js';
import type { RevocationList } from './revocation-list.js';
import { TokenCache } from './token-cache.js';
import { DEFAULT_MAX_LIFETIME_S, type TokenPolicy } from './token-policy.js';

/**
 * `customer` may watch the orders of its `orders` claim on /v1/track;
 * `tracker` may watch the one order named by its `sub` (short-lived, issued by
 * POST /v1/orders/:id/tracking-token).
 */
export const ROLES = ['driver', 'service', 'admin', 'customer', 'tracker'] as const;
export type Role = (typeof ROLES)[number];

/** Who a verified token speaks for. Shared between requests (cached): never mutate one. */
export interface Principal {
  readonly role: Role;
  /** The subject: for a driver, its driver id. */
  readonly sub: string;
  /** Expiry, ms since the epoch (every accepted token has one). */
  readonly expiresAt: number;
  /** Issue time (`iat`), ms since the epoch, when the token has one. */
  readonly issuedAt?: number;
  /** The token id (`jti`): what a revocation of one token names. */
  readonly jti?: string;
  /** Authentication methods (`amr`, RFC 8176), e.g. `["pwd","otp"]`: what checkMfa reads. */
  readonly amr?: readonly string[];
  /** When the user authenticated (`auth_time`), ms since the epoch. */
  readonly authTime?: number;
  /** A driver's vehicle (`vehicle` claim), when the token names a known one. */
  readonly vehicle?: VehicleType;
  /** The order ids a `customer` token may watch (`orders` claim). */
  readonly orders?: readonly string[];
}

/** Most order ids one `orders` claim may list: a customer has a handful of open orders, not thousands. */
export const MAX_ORDERS_CLAIM = 100;
/** Most `amr` values one token may carry (RFC 8176 defines 18). */
const MAX_AMR = 16;
/** Clock skew tolerated between an issuer and this gateway for `iat` and `auth_time` in the future. */
const SKEW_S = 60;

/** The wire code of a refused token (see src/protocol/error-codes.ts): 401 codes, then the 403 ones. */
export type TokenErrorCode = 'unauthorized' | 'unknown_key' | 'token_revoked' | 'forbidden' | 'mfa_required';

/**
 * Why a token was refused: `unauthorized` (no valid token), `unknown_key`
 * (signed by a key this gateway does not hold yet: retry shortly),
 * `token_revoked`, `forbidden` (valid, wrong role) or `mfa_required`.
 */
export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
    /** Finer than the code, for the audit trail only (clients get the code and message): `malformed`, `bad_signature`, `bad_algorithm`, `bad_claims`, `not_yet_valid`. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface TokenServiceOptions {
  /** HS256 secret (HEXFLEET_JWT_SECRET): verifies HS256 tokens and signs every token this process mints. */
  secret?: string;
  /** RS256/ES256/EdDSA verification keys by kid (HEXFLEET_JWKS_URL / _FILE). */
  jwks?: JwksKeys;
  /** Lifetimes per role, issuer, audience; default DEFAULT_MAX_LIFETIME_S and no iss/aud check. */
  policy?: TokenPolicy;
  /** Revocations checked on every verification (cached or not). */
  revocations?: RevocationList;
  /** Verified tokens kept (0: none); default 10,000. */
  cacheSize?: number;
}

/** What `sign` puts in a token; `ttlS` defaults to the role's longest lifetime. */
export interface TokenClaims {
  role: Role;
  sub: string;
  ttlS?: number;
  vehicle?: VehicleType;
  orders?: readonly string[];
  /** Authentication methods (e.g. `['pwd','otp']`) and when they were used (seconds since the epoch): for admin actions. */
  amr?: readonly string[];
  authTimeS?: number;
}

/** One message for every way a token fails to parse or verify (a client learns nothing from which); the audit trail gets `reason`. */
const bad = (reason: string): TokenError => new TokenError('unauthorized', 'the token is malformed or badly signed', reason);

/**
 * Signs (HS256, with jose) and verifies tokens: HS256 with the secret, and
 * RS256, ES256 and EdDSA with the JWKS key named by `kid`, each algorithm
 * only with a key of its own type (no algorithm confusion, no `none`).
 *
 * Every accepted token has a strictly base64url-encoded header, payload and
 * signature, a valid signature, `role` and `sub`, an `exp` in the future
 * within its role's longest lifetime, no `nbf` in the future, no `iat` in the
 * future, the configured `iss`/`aud`, and is not revoked.
 *
 * Synchronous on purpose (node:crypto rather than jose's WebCrypto): the
 * WebSocket upgrade must be decided inside its handler, because
 * uWebSockets.js 20.30 can close a socket upgraded after an await right
 * after `open` (uNetworking/uWebSockets#1929). For the same reason an
 * unknown kid is refused at once (`unknown_key`, retry) and only triggers a
 * JWKS read.
 */
export class TokenService {
  private readonly key: Uint8Array | undefined;
  private readonly jwks: JwksKeys | undefined;
  readonly policy: TokenPolicy;
  private readonly revocations: RevocationList | undefined;
  private readonly cache: TokenCache;

  constructor(secretOrOptions: string | TokenServiceOptions) {
    const o = typeof secretOrOptions === 'string' ? { secret: secretOrOptions } : secretOrOptions;
    if (o.secret !== undefined && o.secret.length < 32) throw new Error('the JWT secret must be at least 32 characters');
    if (!o.secret && !o.jwks) throw new Error('tokens need HEXFLEET_JWT_SECRET or a JWKS (HEXFLEET_JWKS_URL / HEXFLEET_JWKS_FILE)');
    this.key = o.secret ? new TextEncoder().encode(o.secret) : undefined;
    this.jwks = o.jwks;
    this.policy = o.policy ?? { maxLifetimeS: DEFAULT_MAX_LIFETIME_S };
    this.revocations = o.revocations;
    this.cache = new TokenCache(o.cacheSize ?? 10_000);
  }

  /** Signs an HS256 token with `iat`, `exp` and a fresh `jti`. Throws without a secret. */
  async sign(claims: TokenClaims): Promise<string> {
    if (!this.key) throw new Error('HEXFLEET_JWT_SECRET is not set: this process verifies JWKS tokens but cannot mint any');
    const payload: Record<string, unknown> = { role: claims.role };
    if (claims.vehicle) payload.vehicle = claims.vehicle;
    if (claims.orders) payload.orders = [...claims.orders];
    if (claims.amr) payload.amr = [...claims.amr];
    if (claims.authTimeS !== undefined) payload.auth_time = claims.authTimeS;
    const nowS = Math.floor(Date.now() / 1000);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setJti(randomUUID())
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + (claims.ttlS ?? this.policy.maxLifetimeS[claims.role]))
      .sign(this.key);
  }

  /**
   * Verifies a token and checks its role is one of `allowed`; see the class
   * comment for what is checked. A token verified before is found in the
   * cache by its string; expiry and revocation are checked on every call.
   */
  verify(token: string | undefined, allowed: readonly Role[], now = Date.now()): Principal {
    if (!token) throw new TokenError('unauthorized', 'no token: pass ?token=… or Authorization: Bearer …');
    let principal = this.cache.get(token);
    if (!principal) {
      principal = this.verifyUncached(token, now);
      this.cache.set(token, principal);
    }
    if (now >= principal.expiresAt) {
      this.cache.delete(token);
      throw new TokenError('unauthorized', 'the token has expired');
    }
    if (this.revocations?.revoking(principal, now)) throw new TokenError('token_revoked', 'the token was revoked; get a new one');
    if (!(allowed as readonly string[]).includes(principal.role)) {
      throw new TokenError('forbidden', `role ${principal.role} may not use this endpoint (needs ${allowed.join(' or ')})`);
    }
    return principal;
  }

  /** Empties the verified-token cache (after the JWKS changed). */
  forgetVerified(): void {
    this.cache.clear();
  }

  private verifyUncached(token: string, now: number): Principal {
    const parts = token.split('.');
    if (parts.length !== 3) throw bad('malformed');
    const [h, p, s] = parts as [string, string, string];
    const headerBytes = decodeBase64url(h);
    const payloadBytes = decodeBase64url(p);
    const sig = decodeBase64url(s);
    if (!headerBytes || !payloadBytes || !sig) throw bad('malformed');
    const header = parseObject(headerBytes);
    if (!header || header.crit !== undefined) throw bad('malformed');
    this.checkSignature(header, `${h}.${p}`, sig);
    const payload = parseObject(payloadBytes);
    if (!payload) throw bad('malformed');
    return this.principalOf(payload, Math.floor(now / 1000));
  }

  /** Throws unless `sig` is a valid signature of `input` by the key the header's alg and kid name. */
  private checkSignature(header: Record<string, unknown>, input: string, sig: Buffer): void {
    const { alg, kid } = header;
    if (alg === 'HS256') {
      if (!this.key) throw bad('bad_signature');
      const expected = createHmac('sha256', this.key).update(input).digest();
      if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) throw bad('bad_signature');
      return;
    }
    if ((alg !== 'RS256' && alg !== 'ES256' && alg !== 'EdDSA') || !this.jwks || typeof kid !== 'string') throw bad('bad_algorithm');
    const jwk = this.jwks.get(kid);
    if (!jwk) {
      this.jwks.requestRefresh();
      throw new TokenError('unknown_key', `no key with kid "${kid.slice(0, 64)}" yet; the key set is being read again, retry in a few seconds`);
    }
    // The key's type decides the algorithm: an RS256 header over an EC key (or the reverse) is refused.
    if (jwk.alg !== alg) throw bad('bad_algorithm');
    const data = Buffer.from(input);
    const ok = alg === 'EdDSA'
      ? verifySignature(null, data, jwk.key, sig)
      : alg === 'ES256'
        ? sig.length === 64 && verifySignature('sha256', data, { key: jwk.key, dsaEncoding: 'ieee-p1363' }, sig)
        : verifySignature('sha256', data, jwk.key, sig);
    if (!ok) throw bad('bad_signature');
  }

  /** The principal of signed claims: times, role, subject, lifetime, issuer, audience and the optional claims. */
  private principalOf(payload: Record<string, unknown>, nowS: number): Principal {
    for (const claim of ['iat', 'nbf', 'exp', 'auth_time']) {
      if (payload[claim] !== undefined && (typeof payload[claim] !== 'number' || !Number.isFinite(payload[claim]))) throw bad('bad_claims');
    }
    const { iat, nbf, exp, role, sub } = payload as { iat?: number; nbf?: number; exp?: number; role?: unknown; sub?: unknown };
    if (nbf !== undefined && nbf > nowS) throw bad('not_yet_valid');
    if (exp !== undefined && exp <= nowS) throw new TokenError('unauthorized', 'the token has expired');
    if (typeof sub !== 'string' || sub === '' || typeof role !== 'string') throw new TokenError('unauthorized', 'the token lacks a role or a subject');
    if (!(ROLES as readonly string[]).includes(role)) throw new TokenError('forbidden', `role ${role.slice(0, 40)} is not a hexfleet role`);
    const maxS = this.policy.maxLifetimeS[role as Role];
    if (exp === undefined) throw new TokenError('unauthorized', 'the token has no exp claim: every token must expire');
    if (iat !== undefined && iat > nowS + SKEW_S) throw new TokenError('unauthorized', 'the token was issued in the future (iat); check the issuer\'s clock');
    if (exp - (iat ?? nowS) > maxS) throw new TokenError('unauthorized', `the token lives longer than a ${role} token may (${maxS} s from iat to exp)`);
    this.checkAudience(payload);

    const principal: { -readonly [K in keyof Principal]: Principal[K] } = { role: role as Role, sub, expiresAt: exp * 1000 };
    if (iat !== undefined) principal.issuedAt = iat * 1000;
    if (payload.jti !== undefined) {
      if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw new TokenError('unauthorized', 'the jti claim must be a string of 1 to 256 characters');
      principal.jti = payload.jti;
    }
    if (payload.amr !== undefined) {
      const amr = payload.amr;
      if (!Array.isArray(amr) || amr.length > MAX_AMR || !amr.every((m) => typeof m === 'string' && m.length <= 32)) {
        throw new TokenError('unauthorized', `the amr claim must be an array of at most ${MAX_AMR} method names`);
      }
      principal.amr = Object.freeze([...amr as string[]]);
    }
    if (payload.auth_time !== undefined) principal.authTime = (payload.auth_time as number) * 1000;
    if (isVehicleType(payload.vehicle)) principal.vehicle = payload.vehicle;
    if (payload.orders !== undefined) {
      const orders = payload.orders;
      if (!Array.isArray(orders) || orders.length > MAX_ORDERS_CLAIM || !orders.every((o) => typeof o === 'string' && o !== '')) {
        throw new TokenError('unauthorized', `the orders claim must be an array of at most ${MAX_ORDERS_CLAIM} order ids`);
      }
      principal.orders = Object.freeze([...orders as string[]]);
    }
    return Object.freeze(principal);
  }

  private checkAudience(payload: Record<string, unknown>): void {
    const { issuer, audience } = this.policy;
    if (issuer !== undefined && payload.iss !== issuer) throw new TokenError('unauthorized', 'the token was not issued by the configured issuer (iss)');
    if (audience !== undefined) {
      const aud = payload.aud;
      if (aud !== audience && !(Array.isArray(aud) && aud.includes(audience))) throw new TokenError('unauthorized', 'the token is not meant for this audience (aud)');
    }
  }
}

/** A JSON object from bytes, or undefined. */
function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The token in `Authorization: Bearer …`, else in the `token` query parameter. */
export function tokenFrom(authorization: string, queryToken: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  return m?.[1] ?? (queryToken || undefined);
}
