import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { isVehicleType, type VehicleType } from '../domain/vehicle.js';

/**
 * `customer` may watch the orders of its `orders` claim on /v1/track;
 * `tracker` may watch the one order named by its `sub` (short-lived, issued by
 * POST /v1/orders/:id/tracking-token).
 */
export const ROLES = ['driver', 'service', 'admin', 'customer', 'tracker'] as const;
export type Role = (typeof ROLES)[number];

/** Who a verified token speaks for. */
export interface Principal {
  role: Role;
  /** The subject: for a driver, its driver id. */
  sub: string;
  /** Expiry, ms since the epoch (undefined: the token does not expire). */
  expiresAt: number | undefined;
  /** A driver's vehicle (`vehicle` claim), when the token names a known one. */
  vehicle?: VehicleType;
  /** The order ids a `customer` token may watch (`orders` claim). */
  orders?: readonly string[];
}

/** Most order ids one `orders` claim may list: a customer has a handful of open orders, not thousands. */
export const MAX_ORDERS_CLAIM = 100;

/** Why a token was refused: `unauthorized` (no valid token) or `forbidden` (valid, wrong role). */
export class TokenError extends Error {
  constructor(
    readonly code: 'unauthorized' | 'forbidden',
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** Signs (with jose) and verifies HS256 tokens. */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    if (secret.length < 32) throw new Error('the JWT secret must be at least 32 characters');
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: { role: Role; sub: string; ttlS?: number; vehicle?: VehicleType; orders?: readonly string[] }): Promise<string> {
    const payload: Record<string, unknown> = { role: claims.role };
    if (claims.vehicle) payload.vehicle = claims.vehicle;
    if (claims.orders) payload.orders = [...claims.orders];
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuedAt();
    if (claims.ttlS !== undefined) jwt.setExpirationTime(`${claims.ttlS}s`);
    return jwt.sign(this.key);
  }

  /**
   * Verifies a token and checks its role is one of `allowed`: HS256 only (no
   * `none`, no algorithm confusion), a valid signature compared in constant
   * time, `exp` and `nbf` checked, `role` and `sub` required.
   *
   * Synchronous on purpose (node:crypto rather than jose's WebCrypto): the
   * WebSocket upgrade must be decided inside its handler, because
   * uWebSockets.js 20.30 can close a socket upgraded after an await right
   * after `open` (uNetworking/uWebSockets#1929).
   */
  verify(token: string | undefined, allowed: readonly Role[]): Principal {
    if (!token) throw new TokenError('unauthorized', 'no token: pass ?token=… or Authorization: Bearer …');
    // Built only when needed: verification runs on every request.
    const bad = (): TokenError => new TokenError('unauthorized', 'the token is malformed or badly signed');
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) throw bad();
    const [h, p, sig] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (typeof header !== 'object' || header === null || header.alg !== 'HS256' || header.crit !== undefined) throw bad();
    const expected = createHmac('sha256', this.key).update(`${h}.${p}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw bad();
    const nowS = Math.floor(Date.now() / 1000);
    for (const claim of ['iat', 'nbf', 'exp']) {
      if (payload[claim] !== undefined && (typeof payload[claim] !== 'number' || !Number.isFinite(payload[claim]))) throw bad();
    }
    if (payload.nbf !== undefined && (payload.nbf as number) > nowS) throw bad();
    if (payload.exp !== undefined && (payload.exp as number) <= nowS) throw new TokenError('unauthorized', 'the token has expired');
    return principalOf(payload, allowed);
  }
}

/** The principal of verified claims, if they carry a role among `allowed` and a subject. */
function principalOf(payload: { role?: unknown; sub?: unknown; exp?: unknown; vehicle?: unknown; orders?: unknown }, allowed: readonly Role[]): Principal {
  const role = payload.role;
  if (typeof payload.sub !== 'string' || payload.sub === '' || typeof role !== 'string') {
    throw new TokenError('unauthorized', 'the token lacks a role or a subject');
  }
  if (!(allowed as readonly string[]).includes(role)) {
    throw new TokenError('forbidden', `role ${role} may not use this endpoint (needs ${allowed.join(' or ')})`);
  }
  const principal: Principal = { role: role as Role, sub: payload.sub, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined };
  if (isVehicleType(payload.vehicle)) principal.vehicle = payload.vehicle;
  if (payload.orders !== undefined) {
    const orders = payload.orders;
    if (!Array.isArray(orders) || orders.length > MAX_ORDERS_CLAIM || !orders.every((o) => typeof o === 'string' && o !== '')) {
      throw new TokenError('unauthorized', `the orders claim must be an array of at most ${MAX_ORDERS_CLAIM} order ids`);
    }
    principal.orders = orders as string[];
  }
  return principal;
}

/** The token in `Authorization: Bearer …`, else in the `token` query parameter. */
export function tokenFrom(authorization: string, queryToken: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  return m?.[1] ?? (queryToken || undefined);
}
