import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Config } from '../config/config-schema.js';
import { HexfleetError } from '../protocol/error-codes.js';
import { authorizeRequest, respondAsync } from './http-reply.js';
import { requireId } from '../protocol/id-limits.js';
import type { HttpRateLimiter } from './rate-limit.js';

/**
 * `POST /v1/orders/:id/tracking-token` (who may: RBAC_TABLE) →
 * `{"token","expiresAt"}`: a `tracker` token that may watch that one order on
 * /v1/track for HEXFLEET_TRACKING_TOKEN_TTL_S. The order need not exist yet
 * (the order service may hand out the link before matching): until it has a
 * driver, the tracker sees `waiting`.
 */
export function registerTrackingRoutes(app: TemplatedApp, deps: { config: Config; access: Authorizer; log: Logger; guard?: AccessGuard; limiter: HttpRateLimiter }): void {
  const { config, access, log } = deps;
  app.post('/v1/orders/:id/tracking-token', (res, req) =>
    respondAsync(res, req, log, (r, rs) => {
      rs.onData(() => {}); // The body, if any, is ignored.
      let id: string;
      try {
        id = decodeURIComponent(r.getParameter(0));
      } catch {
        throw new HexfleetError('invalid_parameter', 'id is not valid percent-encoding');
      }
      return { auth: r.getHeader('authorization'), token: r.getQuery('token'), id: requireId('orderId', id, 'invalid_parameter', 'id') };
    }, async ({ auth, token, id }, call) => {
      // Audited as token.mint with the order and the new token's jti (never the token).
      call.event = { action: 'token.mint', orderId: id };
      call.principal = authorizeRequest(access, 'POST /v1/orders/:id/tracking-token', auth, token, { orderId: id });
      deps.limiter.charge(call.principal, 1);
      const jwt = await access.tokens.sign({ role: 'tracker', sub: id, ttlS: config.trackingTokenTtlS });
      // The expiry the token carries (jose rounds to whole seconds), not a second clock read.
      const { exp, jti } = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number; jti?: string };
      if (jti !== undefined) call.event.target = { type: 'token', id: jti };
      return { status: 200, body: { token: jwt, expiresAt: exp * 1000 } };
    }, deps.guard),
  );
}
