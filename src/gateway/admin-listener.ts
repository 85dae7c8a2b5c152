import type * as UWS from 'uWebSockets.js';
import type { Config } from '../config/config-schema.js';
import { type HealthDeps, registerHealthRoutes } from '../http/health-routes.js';
import { errorReply, writeReply } from '../http/http-reply.js';

/** The admin listener of a running gateway. */
export interface AdminListener {
  /** The port it listens on (useful with HEXFLEET_ADMIN_PORT=0). */
  port: number;
  /** Stops listening and drops its connections (idempotent). */
  close(): void;
}

/**
 * Starts the admin listener: `/metrics`, `/readyz` with its details and
 * `/healthz`, without a token, on HEXFLEET_ADMIN_HOST:HEXFLEET_ADMIN_PORT
 * (loopback by default: reaching it is the credential, as for a database's
 * local socket). A separate uWebSockets.js app, so nothing of the public API
 * or the WebSocket endpoints answers there. Returns undefined when
 * HEXFLEET_ADMIN_PORT is -1 (no admin listener; the public port still serves
 * both to an admin token). Throws when the port cannot be bound.
 */
export async function startAdminListener(uws: typeof UWS, config: Config, deps: HealthDeps): Promise<AdminListener | undefined> {
  if (config.adminPort < 0) return undefined;
  const app = uws.App();
  registerHealthRoutes(app, deps, { kind: 'admin' });
  app.any('/*', (res) => writeReply(res, errorReply('not_found', 'the admin port serves /metrics, /readyz and /healthz')));
  const socket = await new Promise<UWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.adminHost, config.adminPort, (s) =>
      (s ? resolve(s) : reject(new Error(`cannot listen on ${config.adminHost}:${config.adminPort} (HEXFLEET_ADMIN_PORT)`))));
  });
  const port = uws.us_socket_local_port(socket);
  deps.log.info({ port, host: config.adminHost }, 'hexfleet admin listener: /metrics, /readyz, /healthz');
  let closed = false;
  return {
    port,
    close() {
      if (closed) return;
      closed = true;
      uws.us_listen_socket_close(socket);
      // Drops keep-alive connections (a Prometheus scraper) too; close() is in the 20.30 binding but not its types.
      (app as UWS.TemplatedApp & { close(): void }).close();
    },
  };
}
