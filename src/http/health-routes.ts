import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Authorizer } from '../auth/authorize.js';
import { tokenFrom } from '../auth/tokens.js';
import type { Backend } from '../backend/backend.js';
import type { Metrics } from '../runtime/metrics.js';
import { type HttpReply, respondAsync } from './http-reply.js';

/** A readiness probe that hangs is as bad as a failing one: answer within this. */
const READY_TIMEOUT_MS = 1000;

export interface HealthDeps {
  backend: Backend;
  metrics: Metrics;
  log: Logger;
  shuttingDown: () => boolean;
  /** Reachability of the other regions (HEXFLEET_REGION_ENDPOINTS), shown in the details; never makes this gateway unready. */
  regions?: () => Record<string, boolean>;
  /** Each source region's replication consumer (HEXFLEET_REPLICATE_FROM), shown in the details; never makes this gateway unready. */
  replication?: () => Record<string, unknown> | undefined;
}

/**
 * Where the routes are served: `admin` is the admin listener (loopback by
 * default, no token: whoever reaches it is an operator or Prometheus);
 * `public` is the gateway's port, given the Authorizer that guards the
 * details there.
 */
export type HealthListener = { kind: 'admin' } | { kind: 'public'; access: Authorizer; guard?: AccessGuard };

/**
 * `/healthz`: the process is alive (never touches a dependency, so a Redis
 * outage does not get healthy gateways restarted); public everywhere.
 * `/readyz`: 200 only while every dependency of the backend answers and the
 * gateway is not shutting down, else 503; on the admin listener (or with an
 * admin token on the public port) the body names the store and the failing
 * dependencies, on the public port without a token it carries the status
 * only, so a load balancer learns nothing about the deployment's insides.
 * `/metrics`: Prometheus text on the admin listener; on the public port only
 * with an admin token (401 without one, 403 for another role).
 */
export function registerHealthRoutes(app: TemplatedApp, deps: HealthDeps, listener: HealthListener): void {
  const { log } = deps;
  // The public port's refused tokens are audited (and count towards a burst); the admin port takes none.
  const guard = listener.kind === 'public' ? listener.guard : undefined;
  const credentials = (r: { getHeader(k: string): string; getQuery(k: string): string | undefined }) =>
    tokenFrom(r.getHeader('authorization'), r.getQuery('token'));

  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
  });

  app.get('/readyz', (res, req) =>
    respondAsync(res, req, log, credentials, async (token) => {
      // A token is checked before any dependency is asked: a bad one is 401/403, not a readiness answer.
      if (listener.kind === 'public' && token !== undefined) listener.access.verify(token, 'GET /readyz');
      const details = listener.kind === 'admin' || token !== undefined;
      const reply = await readiness(deps);
      if (details) return reply;
      return { status: reply.status, body: { status: (reply.body as { status: string }).status } };
    }, guard),
  );

  app.get('/metrics', (res, req) =>
    respondAsync(res, req, log, credentials, async (token) => {
      if (listener.kind === 'public') listener.access.verify(token, 'GET /metrics');
      return { status: 200, text: await deps.metrics.registry.metrics(), contentType: deps.metrics.registry.contentType };
    }, guard),
  );
}

/** The readiness answer with its details (GET /v1/regions reads its status for the own region). */
export async function readiness({ backend, shuttingDown, regions, replication }: HealthDeps): Promise<HttpReply> {
  if (shuttingDown()) return { status: 503, body: { status: 'unready', failing: ['shutdown'] } };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  const checks = await Promise.race([backend.readiness(), timeout])
    .catch((err: Error) => [{ name: backend.kind, ok: false, detail: err.message }])
    .finally(() => clearTimeout(timer));
  const failing = checks.filter((c) => !c.ok);
  // Another region being down is not a reason to take this gateway out of its load balancer: shown, not counted.
  const reachable = regions?.();
  const replicating = replication?.();
  const extra = {
    ...(reachable && Object.keys(reachable).length > 0 ? { regions: reachable } : {}),
    ...(replicating ? { replication: replicating } : {}),
  };
  if (failing.length === 0) return { status: 200, body: { status: 'ready', store: backend.kind, ...extra } };
  return { status: 503, body: { status: 'unready', failing: failing.map((c) => c.name), message: failing.map((c) => c.detail).join('; '), ...extra } };
}
