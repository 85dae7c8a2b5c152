import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { AccessGuard, AccessPoint, AuditUser } from '../audit/access-guard.js';
import type { AuditAction } from '../audit/audit-log.js';
import { claimedIdentity } from '../audit/token-claims.js';
import { type Principal, tokenFrom } from '../auth/tokens.js';

/**
 * One HTTP request as a route's work sees it: what the route tells the audit
 * trail. Both fields are optional; a route that sets neither is audited only
 * when it is refused (401, 403, 429).
 */
export interface HttpCall {
  /** The verified principal, once the route has it: an admin's every request is audited. */
  principal?: Principal;
  /** Set by a route whose outcome is audited (a match, a cancel, a token minted), with what it concerned. */
  event?: { action: AuditAction; orderId?: string; target?: { type: string; id: string } };
}

/** What respondAsync keeps of a request for its audit entry, copied before uWS frees the request. */
export interface OpenCall extends HttpCall {
  method: string;
  path: string;
  /** Non-zero: the address is cooling off until then, and the request is refused before any work. */
  refusedUntil: number;
  /** X-Forwarded-For, copied only while some proxy is trusted (see AccessGuard.sourceOf). */
  forwardedFor?: string;
}

/** The peer address of a request or upgrade, as text (uWS gives it as bytes). */
export function remoteAddress(res: HttpResponse): string {
  return Buffer.from(res.getRemoteAddressAsText()).toString();
}

/**
 * Copies what the audit needs from a request (its method and path, never the
 * query: a token may ride in `?token=`; X-Forwarded-For only when a proxy is
 * trusted), and checks the cool-off list — reading the peer address only
 * while some address is cooling off.
 */
export function openCall(res: HttpResponse, req: HttpRequest, guard: AccessGuard | undefined): OpenCall {
  if (!guard) return { method: '', path: '', refusedUntil: 0 };
  const call: OpenCall = { method: req.getMethod(), path: req.getUrl(), refusedUntil: 0 };
  if (guard.trustsProxies) call.forwardedFor = req.getHeader('x-forwarded-for');
  if (guard.anyCoolingOff) call.refusedUntil = guard.refusedUntil(guard.sourceOf(remoteAddress(res), call.forwardedFor), 'http', Date.now());
  return call;
}

/**
 * The audit entry of a finished request, if it needs one: a refused token
 * (401, counted towards a burst), a denial (403), a rate limit (429), the
 * route's own event, or any request of an admin. Nothing is built for the
 * common case (a service's request that succeeded). `input` is the route's
 * copied request: by convention its `auth` and `token` fields hold the
 * Authorization header and `?token=` — read only when an entry is written,
 * for who the token claims to be (its subject; never the token itself); a
 * route whose input is a string (the token alone) counts as that.
 * `res` is undefined once the client went away (no address then).
 */
export function closeCall(guard: AccessGuard, call: OpenCall, status: number, code: string | undefined, failure: unknown, input: unknown, res: HttpResponse | undefined): void {
  if (status < 400 && !call.event && call.principal?.role !== 'admin') return;
  const at: AccessPoint = { path: call.path, method: call.method };
  if (res) at.sourceIp = guard.sourceOf(remoteAddress(res), call.forwardedFor);
  const token = tokenOf(input);
  if (status === 401) return guard.authFailed(at, failure, token, status);
  const user: AuditUser | undefined = call.principal ? { id: call.principal.sub, roles: [call.principal.role] } : claimedIdentity(token);
  const about = call.event ? { ...(call.event.orderId !== undefined ? { orderId: call.event.orderId } : {}), ...(call.event.target ? { target: call.event.target } : {}) } : {};
  if (status === 403) return guard.denied(at, code ?? 'forbidden', user, about, status);
  if (status === 429) {
    if (code !== 'auth_cooloff') guard.limited(at, code ?? 'rate_limited', user, `http ${user?.id ?? at.sourceIp}`, status);
    return;
  }
  guard.audit.record({
    ...at,
    ...about,
    status,
    action: call.event?.action ?? 'admin.request',
    outcome: status < 400 ? 'success' : 'failure',
    ...(status >= 400 && code ? { reason: code } : {}),
    ...(user ? { user } : {}),
  });
}

/** The bearer token a route copied into its input: the input itself (a route that reads only the token), or `auth` (the Authorization header) and `token` (the query parameter). */
function tokenOf(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  const i = input as { auth?: unknown; token?: unknown } | undefined;
  if (typeof i?.auth !== 'string') return undefined;
  return tokenFrom(i.auth, typeof i.token === 'string' ? i.token : undefined);
}
