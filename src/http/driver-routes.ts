import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/config-schema.js';
import type { Authorizer } from '../auth/authorize.js';
import { HexfleetError } from '../protocol/error-codes.js';
import type { DriverStore, NearbyDriver, NearbyOptions, NearbyReader, StoredStatus } from '../geo/driver-store.js';
import { authorizeRequest, errorReply, type HttpReply, respondAsync } from './http-reply.js';
import { requireId } from '../protocol/id-limits.js';
import { type HttpRateLimiter, nearbyCost } from './rate-limit.js';
import { strictNumber } from './strict-number.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { ReplicatedOrigins } from '../tracking/replicated-origins.js';

const STATUSES: readonly StoredStatus[] = ['available', 'busy', 'offline', 'unknown'];

function bad(name: string, why: string): HexfleetError {
  return new HexfleetError('invalid_parameter', `${name} ${why}`);
}

function number(q: URLSearchParams, name: string, min: number, max: number, fallback?: number): number {
  return strictNumber(name, q.get(name), fallback === undefined ? { min, max } : { min, max, fallback });
}

/** Parses `/v1/drivers/nearby` parameters; every failure names the parameter. */
export function parseNearby(query: string, config: Config) {
  const q = new URLSearchParams(query);
  const lat = number(q, 'lat', -90, 90);
  const lng = number(q, 'lng', -180, 180);
  const radiusM = number(q, 'radius', 0, config.nearbyMaxRadiusM, 1000);
  const limit = number(q, 'limit', 1, config.nearbyMaxLimit, 20);
  if (!Number.isInteger(limit)) throw bad('limit', 'must be a whole number');
  const options: NearbyOptions = { limit };
  const stale = q.get('includeStale');
  if (stale !== null) {
    if (stale !== 'true' && stale !== 'false') throw bad('includeStale', 'must be true or false');
    options.includeStale = stale === 'true';
  }
  const status = q.get('status');
  if (status !== null) {
    if (!STATUSES.includes(status as StoredStatus)) throw bad('status', `must be one of ${STATUSES.join(', ')}`);
    options.status = status as StoredStatus;
  }
  return { lat, lng, radiusM, options };
}

function nearbyReply(drivers: NearbyDriver[], origins: ReplicatedOrigins | undefined): HttpReply {
  // Without replicated positions held (a single region: always), no copy per query.
  return { status: 200, body: { drivers: origins && origins.size > 0 ? drivers.map((d) => origins.annotate(d)) : drivers } };
}

/** The driver id of a path, checked against ID_LIMITS before any lookup. */
function decodeId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw bad('id', 'is not valid percent-encoding');
  }
  return requireId('driverId', id, 'invalid_parameter', 'id');
}

/**
 * `GET /v1/drivers/nearby` and `GET /v1/drivers/:id` (who may: RBAC_TABLE).
 * `nearby`: where nearby reads go (the read index, or the store); `store`
 * answers the rest. `origins`: a driver whose position came from another
 * region is answered with its `region` and `replicationAgeMs`.
 */
export function registerDriverRoutes(
  app: TemplatedApp,
  deps: { config: Config; access: Authorizer; store: DriverStore; nearby?: NearbyReader; origins?: ReplicatedOrigins; log: Logger; guard?: AccessGuard; limiter: HttpRateLimiter },
): void {
  const { config, access, store, origins, log } = deps;
  const reader: NearbyReader = deps.nearby ?? store;

  app.get('/v1/drivers/nearby', (res, req) =>
    respondAsync(res, req, log, (r) => ({ auth: r.getHeader('authorization'), token: r.getQuery('token'), query: r.getQuery() ?? '' }),
      // Not async: when the reader holds the answer (read index, memory store) it is written inside the handler.
      ({ auth, token, query }, call) => {
        call.principal = authorizeRequest(access, 'GET /v1/drivers/nearby', auth, token);
        const { lat, lng, radiusM, options } = parseNearby(query, config);
        deps.limiter.charge(call.principal, nearbyCost(radiusM));
        const now = Date.now();
        const drivers = reader.nearbyNow?.(lat, lng, radiusM, options, now);
        return drivers ? nearbyReply(drivers, origins) : reader.nearby(lat, lng, radiusM, options, now).then((d) => nearbyReply(d, origins));
      }, deps.guard),
  );

  app.get('/v1/drivers/:id', (res, req) =>
    respondAsync(res, req, log, (r) => ({ auth: r.getHeader('authorization'), token: r.getQuery('token'), id: decodeId(r.getParameter(0)) }),
      async ({ auth, token, id }, call) => {
        call.principal = authorizeRequest(access, 'GET /v1/drivers/:id', auth, token, { driverId: id });
        deps.limiter.charge(call.principal, 1);
        const driver = await store.get(id, Date.now());
        return driver ? { status: 200, body: origins ? origins.annotate(driver) : driver } : errorReply('not_found', `no driver "${id.slice(0, 128)}"`);
      }, deps.guard),
  );
}
