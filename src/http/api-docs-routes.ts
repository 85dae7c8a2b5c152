import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Authorizer } from '../auth/authorize.js';
import { tokenFrom } from '../auth/tokens.js';
import type { Config } from '../config/config-schema.js';
import { asyncApiDocument } from '../protocol/asyncapi-document.js';
import { API_VERSION, openApiDocument } from './openapi-document.js';
import { respondAsync } from './http-reply.js';

export interface ApiDocsRouteDeps {
  config: Config;
  access: Authorizer;
  guard?: AccessGuard;
  log: Logger;
}

/**
 * `GET /openapi.json` (the HTTP API, OpenAPI 3.1) and `GET /asyncapi.json`
 * (the WebSocket protocols, AsyncAPI 3.0): public, as RBAC_TABLE says (a
 * token, when given, is still checked). Both documents are built once, with
 * this gateway's limits, and served as the same bytes every time.
 */
export function registerApiDocsRoutes(app: TemplatedApp, deps: ApiDocsRouteDeps): void {
  const serve = (action: 'GET /openapi.json' | 'GET /asyncapi.json', text: string) => (res: HttpResponse, req: HttpRequest) =>
    respondAsync(res, req, deps.log, (r) => tokenFrom(r.getHeader('authorization'), r.getQuery('token')), (token) => {
      if (token !== undefined) deps.access.verify(token, action);
      return { status: 200, text, contentType: 'application/json', headers: { 'cache-control': 'no-cache' } };
    }, deps.guard);
  // Literal paths: test/http/openapi.test.ts reads the registered routes from the sources.
  app.get('/openapi.json', serve('GET /openapi.json', JSON.stringify(openApiDocument(deps.config))));
  app.get('/asyncapi.json', serve('GET /asyncapi.json', JSON.stringify(asyncApiDocument(API_VERSION))));
}
