import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Config } from '../config/config-schema.js';
import { HexfleetError } from '../protocol/error-codes.js';
import { requireId } from '../protocol/id-limits.js';
import type { HttpRateLimiter } from './rate-limit.js';
import { authorizeRequest, errorReply, type HttpReply, readBody, respondAsync } from './http-reply.js';
import { parseMatchRequest } from '../orders/match-request.js';
import type { MatchService } from '../orders/match-service.js';
import type { OrderDoc } from '../orders/order.js';
import type { OrderSaga } from '../orders/order-saga.js';

/** A match request is a few hundred bytes; anything near this is not one. */
const MAX_BODY_BYTES = 16 * 1024;

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HexfleetError('invalid_body', 'the body is not valid JSON');
  }
}

/** What the API answers about an order's assignment. */
export function assignmentView(doc: OrderDoc): Record<string, unknown> {
  const view: Record<string, unknown> = { orderId: doc.orderId, state: doc.state, attempt: doc.attempt };
  if (doc.driverId && doc.state !== 'failed' && doc.state !== 'searching') {
    Object.assign(view, { driverId: doc.driverId, distanceM: doc.distanceM, etaS: doc.etaS, etaSource: doc.etaSource });
  }
  if (doc.offerExpiresAt !== undefined) view.offerExpiresAt = doc.offerExpiresAt;
  if (doc.failReason) view.reason = doc.failReason;
  return view;
}

/** POST /v1/match's answer: 200 with the assignment, or 404 `no_driver` with the order id and why. */
function matchReply(doc: OrderDoc): HttpReply {
  if (doc.state !== 'failed') return { status: 200, body: assignmentView(doc) };
  const reply = errorReply('no_driver');
  Object.assign(reply.body as Record<string, unknown>, { orderId: doc.orderId, reason: doc.failReason });
  return reply;
}

/** The order id of a path, checked against ID_LIMITS before any lookup. */
function orderIdParam(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new HexfleetError('invalid_parameter', 'id is not valid percent-encoding');
  }
  return requireId('orderId', id, 'invalid_parameter', 'id');
}

/**
 * POST /v1/match, GET /v1/orders/:id/assignment, POST /v1/orders/:id/cancel,
 * POST /v1/orders/:id/complete (who may: RBAC_TABLE).
 */
export function registerMatchRoutes(
  app: TemplatedApp,
  deps: { config: Config; access: Authorizer; match: MatchService; saga: OrderSaga; log: Logger; guard?: AccessGuard; limiter: HttpRateLimiter },
): void {
  const { config, access, match, saga, log } = deps;
  // Matches, cancels and completions are audited with their actor and outcome (the route sets the event).
  const { guard } = deps;
  const limits = { defaultRadiusM: config.matchRadiusM, maxRadiusM: config.nearbyMaxRadiusM };
  const headers = (r: { getHeader(k: string): string; getQuery(k: string): string | undefined }) => ({
    auth: r.getHeader('authorization'),
    token: r.getQuery('token'),
  });

  app.post('/v1/match', (res, req) =>
    respondAsync(res, req, log,
      (r, rs) => ({ ...headers(r), key: r.getHeader('idempotency-key') || undefined, body: readBody(rs, MAX_BODY_BYTES) }),
      async ({ auth, token, key, body }, call) => {
        call.principal = authorizeRequest(access, 'POST /v1/match', auth, token);
        deps.limiter.charge(call.principal, 1);
        call.event = { action: 'order.match' };
        if (key !== undefined) requireId('idempotencyKey', key, 'invalid_parameter');
        const request = parseMatchRequest(parseJson(await body), limits);
        call.event.orderId = request.orderId;
        return matchReply(await match.match(request, key));
      }, guard),
  );

  app.get('/v1/orders/:id/assignment', (res, req) =>
    respondAsync(res, req, log, (r) => ({ ...headers(r), id: orderIdParam(r.getParameter(0)) }), async ({ auth, token, id }, call) => {
      call.principal = authorizeRequest(access, 'GET /v1/orders/:id/assignment', auth, token, { orderId: id });
      deps.limiter.charge(call.principal, 1);
      const doc = await saga.get(id);
      if (!doc) return errorReply('not_found', `no order "${id.slice(0, 128)}"`);
      return { status: 200, body: { ...assignmentView(doc), request: doc.request, tried: doc.tried, history: doc.history, createdAt: doc.createdAt, updatedAt: doc.updatedAt } };
    }, guard),
  );

  for (const [action, run] of [['cancel', saga.cancel.bind(saga)], ['complete', saga.complete.bind(saga)]] as const) {
    app.post(`/v1/orders/:id/${action}`, (res, req) =>
      respondAsync(res, req, log, (r, rs) => {
        rs.onData(() => {}); // The body, if any, is ignored.
        return { ...headers(r), id: orderIdParam(r.getParameter(0)) };
      }, async ({ auth, token, id }, call) => {
        call.event = { action: `order.${action}`, orderId: id };
        call.principal = authorizeRequest(access, `POST /v1/orders/:id/${action}` as const, auth, token, { orderId: id });
        deps.limiter.charge(call.principal, 1);
        return { status: 200, body: assignmentView(await run(id, Date.now())) };
      }, guard),
    );
  }
}
