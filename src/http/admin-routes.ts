import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Revocation, RevocationStore } from '../auth/revocation-store.js';
import { longestLifetimeMs } from '../auth/token-policy.js';
import type { TokenService } from '../auth/tokens.js';
import type { AccessGuard } from '../audit/access-guard.js';
import { HexfleetError } from '../protocol/error-codes.js';
import { authorizeRequest, readBody, respondAsync } from './http-reply.js';

/** A revocation request is one id and a time: a few hundred bytes. */
const MAX_BODY_BYTES = 4096;
/** Longest id a revocation names (jti and sub claims are refused above this by the token service too). */
const MAX_ID_CHARS = 256;
/** Furthest in the future a subject may be suspended (`until`): a year; longer is a mistake, not a policy. */
const MAX_SUSPEND_MS = 365 * 24 * 3600 * 1000;

export interface AdminRouteDeps {
  tokens: TokenService;
  /** Who may: RBAC_TABLE's admin rows (role admin with a second factor). */
  access: Authorizer;
  revocations: RevocationStore;
  log: Logger;
  /** The audit trail: every revocation (token.revoke, with what it names) and every refused request. */
  guard?: AccessGuard;
}

/**
 * The operators' routes (who may: RBAC_TABLE — role `admin` with a second factor).
 *
 * - `POST /v1/admin/revocations` with `{"jti":…}` revokes one token, with
 *   `{"sub":…}` every token of a subject issued until now — or until
 *   `"until"` (ms since the epoch, a suspension). Answers `{"revocation"}`
 *   once stored; every gateway refuses the tokens (401 `token_revoked`) and
 *   closes their sockets (4403) within a second.
 * - `GET /v1/admin/revocations` → `{"revocations":[…]}`: those in force.
 */
export function registerAdminRoutes(app: TemplatedApp, deps: AdminRouteDeps): void {
  const { tokens, access, revocations, log } = deps;
  const keepMs = longestLifetimeMs(tokens.policy);

  app.post('/v1/admin/revocations', (res, req) =>
    respondAsync(res, req, log,
      (r, rs) => ({ auth: r.getHeader('authorization'), token: r.getQuery('token'), body: readBody(rs, MAX_BODY_BYTES) }),
      async ({ auth, token, body }, call) => {
        call.event = { action: 'token.revoke' };
        const by = (call.principal = authorizeRequest(access, 'POST /v1/admin/revocations', auth, token));
        const revocation = revocationOf(await body, by.sub, Date.now(), keepMs);
        call.event.target = { type: revocation.kind === 'jti' ? 'token' : 'subject', id: revocation.value };
        await revocations.add(revocation);
        log.info({ kind: revocation.kind, by: revocation.by, until: revocation.until }, 'token revocation added');
        return { status: 200, body: { revocation } };
      }, deps.guard),
  );

  app.get('/v1/admin/revocations', (res, req) =>
    respondAsync(res, req, log, (r) => ({ auth: r.getHeader('authorization'), token: r.getQuery('token') }), async ({ auth, token }, call) => {
      call.principal = authorizeRequest(access, 'GET /v1/admin/revocations', auth, token);
      return { status: 200, body: { revocations: await revocations.list(Date.now()) } };
    }, deps.guard),
  );
}

/** The revocation a request body asks for; throws invalid_body with what is wrong. */
export function revocationOf(body: Buffer, by: string, now: number, keepMs: number): Revocation {
  let b: { jti?: unknown; sub?: unknown; until?: unknown };
  try {
    b = JSON.parse(body.toString('utf8')) as typeof b;
  } catch {
    throw new HexfleetError('invalid_body', 'the body must be JSON: {"jti":"…"} or {"sub":"…","until":ms}');
  }
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new HexfleetError('invalid_body', 'the body must be a JSON object');
  const isId = (v: unknown): v is string => typeof v === 'string' && v !== '' && v.length <= MAX_ID_CHARS;
  if ((b.jti === undefined) === (b.sub === undefined)) throw new HexfleetError('invalid_body', 'name exactly one of jti (one token) or sub (every token of a subject)');
  if (b.jti !== undefined) {
    if (!isId(b.jti)) throw new HexfleetError('invalid_body', `jti must be a string of 1 to ${MAX_ID_CHARS} characters`);
    if (b.until !== undefined) throw new HexfleetError('invalid_body', 'until applies to a subject; a revoked jti stays revoked until it could no longer be valid');
    return { kind: 'jti', value: b.jti, at: now, until: now + keepMs, keepUntil: now + keepMs, by };
  }
  if (!isId(b.sub)) throw new HexfleetError('invalid_body', `sub must be a string of 1 to ${MAX_ID_CHARS} characters`);
  const until = b.until ?? now;
  if (typeof until !== 'number' || !Number.isSafeInteger(until) || until < now - keepMs || until > now + MAX_SUSPEND_MS) {
    throw new HexfleetError('invalid_body', 'until must be ms since the epoch, at most a year ahead (tokens of the subject issued before it are refused)');
  }
  const cutoff = Math.max(until, now);
  return { kind: 'sub', value: b.sub, at: now, until: cutoff, keepUntil: cutoff + keepMs, by };
}
