import { TokenError } from '../auth/tokens.js';

/** Tokens longer than this are not read for their claims (nobody signs a token this large; reading it would cost the gateway). */
const MAX_READ_BYTES = 8192;

/**
 * The subject and role a token claims, read WITHOUT verifying it: for the
 * audit entry of a rejected token (who it claimed to be) and for counting
 * failures per subject. Never for a decision. Undefined when the token is
 * not readable as a JWT.
 */
export function claimedIdentity(token: string | undefined): { id: string; roles: string[] } | undefined {
  if (!token || token.length > MAX_READ_BYTES) return undefined;
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; role?: unknown } | null;
    if (typeof claims !== 'object' || claims === null || typeof claims.sub !== 'string' || claims.sub === '') return undefined;
    return { id: claims.sub, roles: typeof claims.role === 'string' ? [claims.role] : [] };
  } catch {
    return undefined;
  }
}

/**
 * Why a token was refused, as a stable code for `event.reason`: the error's
 * own `reason` when it carries one, its code when that says it all
 * (`unknown_key`, `token_revoked` → `revoked`, `forbidden` →
 * `role_not_allowed`, `mfa_required`), else read from its message (the
 * token service's messages are stable API text): `no_token`, `malformed`,
 * `bad_signature`, `expired`, `bad_claims`, or `invalid_token`.
 */
export function rejectionReason(err: unknown, token: string | undefined): string {
  const own = (err as { reason?: unknown } | null)?.reason;
  if (typeof own === 'string' && /^[a-z_]{1,40}$/.test(own)) return own;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'unknown_key' || code === 'mfa_required') return code;
  if (code === 'token_revoked') return 'revoked';
  if (err instanceof TokenError && code === 'forbidden') return 'role_not_allowed';
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return token ? 'invalid_token' : 'no_token';
  if (/no token/i.test(message)) return 'no_token';
  if (/expired/i.test(message)) return 'expired';
  if (/revoked/i.test(message)) return 'revoked';
  if (/malformed|badly signed|signature/i.test(message)) return claimedIdentity(token) ? 'bad_signature' : 'malformed';
  if (/claim|subject|role|expire|lives longer|future|issuer|audience|\b(iss|aud|jti|amr)\b/i.test(message)) return 'bad_claims';
  return token || message ? 'invalid_token' : 'no_token';
}
