import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import { detailOf } from '../protocol/error-codes.js';
import type { DriverStore } from '../geo/driver-store.js';
import type { Metrics } from '../runtime/metrics.js';
import { respondAsync } from './http-reply.js';

/** A readiness probe that hangs is as bad as a failing one: answer within this. */
const READY_TIMEOUT_MS = 1000;

/**
 * `/healthz`: the process is alive (never touches a dependency, so a Redis
 * outage does not get healthy gateways restarted). `/readyz`: 200 only while
 * the store answers and the gateway is not shutting down; 503 names the
 * failing dependency. `/metrics`: Prometheus text.
 */
export function registerHealthRoutes(
  app: TemplatedApp,
  deps: { store: DriverStore; metrics: Metrics; log: Logger; shuttingDown: () => boolean },
): void {
  const { store, metrics, log, shuttingDown } = deps;

  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
  });

  app.get('/readyz', (res, req) =>
    respondAsync(res, req, log, () => undefined, async () => {
      if (shuttingDown()) return { status: 503, body: { status: 'unready', failing: ['shutdown'] } };
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          store.check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
          }),
        ]);
        return { status: 200, body: { status: 'ready', store: store.kind } };
      } catch (err) {
        return { status: 503, body: { status: 'unready', failing: [store.kind], message: detailOf(err) } };
      } finally {
        clearTimeout(timer);
      }
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
