import type { HttpResponse } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import { claimedIdentity } from '../audit/token-claims.js';
import { ErrorCodes } from '../protocol/error-codes.js';

/**
 * Audits a refused WebSocket upgrade: 401 (a refused token: audited with
 * why, counted towards a burst of the address and the subject) or 403 (a
 * valid token denied the endpoint). Anything else (500) is the gateway's own
 * failure, logged by refuseUpgrade.
 */
export function auditRefusedUpgrade(guard: AccessGuard, err: unknown, token: string | undefined, remote: string, path: string): void {
  const code = (err as { code?: unknown } | null)?.code;
  const status = typeof code === 'string' && Object.hasOwn(ErrorCodes, code) ? ErrorCodes[code as keyof typeof ErrorCodes].http : 500;
  const at = { path, sourceIp: remote };
  if (status === 401) guard.authFailed(at, err, token, status);
  else if (status === 403) guard.denied(at, code as string, claimedIdentity(token), {}, status);
}

/**
 * Refuses an upgrade from an address that is cooling off: 429 `auth_cooloff`
 * with Retry-After, before the token is read. Returns false (and writes
 * nothing) when the address is not refused.
 */
export function refuseCoolingOff(res: HttpResponse, guard: AccessGuard, remote: string, now: number): boolean {
  if (!guard.anyCoolingOff) return false;
  const until = guard.refusedUntil(remote, 'ws', now);
  if (until === 0) return false;
  res.writeStatus('429 Too Many Requests')
    .writeHeader('content-type', 'application/json')
    .writeHeader('retry-after', String(Math.max(1, Math.ceil((until - now) / 1000))))
    .end(JSON.stringify({ code: 'auth_cooloff', message: ErrorCodes.auth_cooloff.message }));
  return true;
}
