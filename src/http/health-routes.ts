import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Backend } from '../backend/backend.js';
import type { Metrics } from '../runtime/metrics.js';
import { respondAsync } from './http-reply.js';

/** A readiness probe that hangs is as bad as a failing one: answer within this. */
const READY_TIMEOUT_MS = 1000;

/**
 * `/healthz`: the process is alive (never touches a dependency, so a Redis
 * outage does not get healthy gateways restarted). `/readyz`: 200 only while
 * every dependency of the backend answers and the gateway is not shutting down; 503 names the
 * failing dependency. `/metrics`: Prometheus text.
 */
export function registerHealthRoutes(
  app: TemplatedApp,
  deps: { backend: Backend; metrics: Metrics; log: Logger; shuttingDown: () => boolean },
): void {
  const { backend, metrics, log, shuttingDown } = deps;

  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
  });

  app.get('/readyz', (res, req) =>
    respondAsync(res, req, log, () => undefined, async () => {
      if (shuttingDown()) return { status: 503, body: { status: 'unready', failing: ['shutdown'] } };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      });
      const checks = await Promise.race([backend.readiness(), timeout])
        .catch((err: Error) => [{ name: backend.kind, ok: false, detail: err.message }])
        .finally(() => clearTimeout(timer));
      const failing = checks.filter((c) => !c.ok);
      if (failing.length === 0) return { status: 200, body: { status: 'ready', store: backend.kind } };
      return { status: 503, body: { status: 'unready', failing: failing.map((c) => c.name), message: failing.map((c) => c.detail).join('; ') } };
    }),
  );

  app.get('/metrics', (res, req) =>
    respondAsync(res, req, log, () => undefined, async () => ({
      status: 200,
      text: await metrics.registry.metrics(),
      contentType: metrics.registry.contentType,
    })),
  );
}
