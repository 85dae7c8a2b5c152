import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Authorizer } from '../auth/authorize.js';
import { tokenFrom } from '../auth/tokens.js';
import { authorizeRequest, errorReply, respondAsync } from '../http/http-reply.js';
import { strictNumber } from '../http/strict-number.js';
import type { OpsAsset } from './ops-map-assets.js';
import type { OpsOrderFeed } from './ops-order-feed.js';

export interface OpsMapRouteDeps {
  assets: Map<string, OpsAsset>;
  feed: OpsOrderFeed;
  access: Authorizer;
  guard?: AccessGuard;
  log: Logger;
}

/**
 * The live operations map:
 *
 *   GET /ops, /ops/<file>   the page and its files: public, they hold no data (the
 *                           admin token stays in the page's URL fragment, never sent here)
 *   GET /v1/ops/orders      open orders with driver and ETA, and the saga transitions
 *                           heard since ?since= (admin + MFA)
 *   WS  /v1/track           drivers: the page's admin area subscription (subscribe_area)
 *   GET /v1/regions         the regions panel
 */
export function registerOpsMapRoutes(app: TemplatedApp, deps: OpsMapRouteDeps): void {
  const { assets, feed, access, log } = deps;
  const serve = (res: HttpResponse, req: HttpRequest, named: boolean): void =>
    respondAsync(res, req, log, (r) => ({ token: tokenFrom(r.getHeader('authorization'), r.getQuery('token')), file: named ? r.getParameter(0) ?? '' : '' }), ({ token, file }) => {
      // Public, as RBAC_TABLE says; a token, when given, is still checked.
      if (token !== undefined) access.verify(token, 'GET /ops');
      const asset = assets.get(file);
      if (!asset) return errorReply('not_found', `the operations map has no file "${file.slice(0, 60)}"; it serves /ops, /ops/ops-map.js, /ops/ops-map.css and /ops/h3-js.es.js`);
      return { status: 200, text: asset.body, contentType: asset.contentType, headers: { 'cache-control': asset.cacheControl, 'x-content-type-options': 'nosniff' } };
    }, deps.guard);
  app.get('/ops', (res, req) => serve(res, req, false));
  app.get('/ops/:file', (res, req) => serve(res, req, true));

  app.get('/v1/ops/orders', (res, req) =>
    respondAsync(res, req, log, (r) => ({ auth: r.getHeader('authorization'), token: r.getQuery('token'), since: r.getQuery('since') }), async ({ auth, token, since }, call) => {
      call.principal = authorizeRequest(access, 'GET /v1/ops/orders', auth, token);
      const after = strictNumber('since', since, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, fallback: 0 });
      return { status: 200, body: await feed.snapshot(after), headers: { 'cache-control': 'no-store' } };
    }, deps.guard),
  );
}
