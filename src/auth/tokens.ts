import { errors, jwtVerify, SignJWT } from 'jose';

export const ROLES = ['driver', 'service', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who a verified token speaks for. */
export interface Principal {
  role: Role;
  /** The subject: for a driver, its driver id. */
  sub: string;
  /** Expiry, ms since the epoch (undefined: the token does not expire). */
  expiresAt: number | undefined;
}

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

/**
 * Signs and verifies HS256 tokens. Verification accepts HS256 only (no `none`,
 * no algorithm confusion) and requires `role` and `sub`.
 */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    if (secret.length < 32) throw new Error('the JWT secret must be at least 32 characters');
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: { role: Role; sub: string; ttlS?: number }): Promise<string> {
    const jwt = new SignJWT({ role: claims.role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuedAt();
    if (claims.ttlS !== undefined) jwt.setExpirationTime(`${claims.ttlS}s`);
    return jwt.sign(this.key);
  }

  /** Verifies a token and checks its role is one of `allowed`. */
  async verify(token: string | undefined, allowed: readonly Role[]): Promise<Principal> {
    if (!token) throw new TokenError('unauthorized', 'no token: pass ?token=… or Authorization: Bearer …');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] }));
    } catch (err) {
      const why = err instanceof errors.JWTExpired ? 'the token has expired' : 'the token is malformed or badly signed';
      throw new TokenError('unauthorized', why);
    }
    const role = payload.role;
    if (typeof payload.sub !== 'string' || payload.sub === '' || typeof role !== 'string') {
      throw new TokenError('unauthorized', 'the token lacks a role or a subject');
    }
    if (!(allowed as readonly string[]).includes(role)) {
      throw new TokenError('forbidden', `role ${role} may not use this endpoint (needs ${allowed.join(' or ')})`);
    }
    return { role: role as Role, sub: payload.sub, expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000 };
  }
}

/** The token in `Authorization: Bearer …`, else in the `token` query parameter. */
export function tokenFrom(authorization: string, queryToken: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  return m?.[1] ?? (queryToken || undefined);
}
