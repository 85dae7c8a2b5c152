import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Authorizer } from '../auth/authorize.js';
import { tokenFrom } from '../auth/tokens.js';
import type { RegionProber } from '../regions/region-prober.js';
import { respondAsync } from './http-reply.js';

export interface RegionsRouteDeps {
  regions: RegionProber;
  access: Authorizer;
  guard?: AccessGuard;
  log: Logger;
}

/**
 * `GET /v1/regions`: every region of the deployment with its endpoints,
 * health (with the probe's age) and load — the SDKs ask it before they pick a
 * region, so it is public: no token needed, the same answer for everyone. A
 * token, when given, is still checked (401/403 on a bad one), as for every
 * public row of RBAC_TABLE. Never cached by intermediaries: ages are of now.
 */
export function registerRegionsRoutes(app: TemplatedApp, deps: RegionsRouteDeps): void {
  app.get('/v1/regions', (res, req) =>
    respondAsync(res, req, deps.log, (r) => tokenFrom(r.getHeader('authorization'), r.getQuery('token')), async (token) => {
      if (token !== undefined) deps.access.verify(token, 'GET /v1/regions');
      return { status: 200, body: await deps.regions.answer(), headers: { 'cache-control': 'no-store' } };
    }, deps.guard),
  );
}
