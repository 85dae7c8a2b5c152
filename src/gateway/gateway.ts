import type { Logger } from 'pino';
import type { TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { TokenService } from '../auth/tokens.js';
import type { Config } from '../config/config-schema.js';
import { CloseCodes } from '../protocol/error-codes.js';
import { createDispatch, type Dispatch } from './create-dispatch.js';
import { registerMatchRoutes } from '../http/match-routes.js';
import { createDriverStore } from '../geo/create-driver-store.js';
import type { DriverStore } from '../geo/driver-store.js';
import { RedisDriverStore } from '../backend/redis/redis-driver-store.js';
import { Sweeper } from '../geo/sweeper.js';
import { registerDriverRoutes } from '../http/driver-routes.js';
import { registerHealthRoutes } from '../http/health-routes.js';
import { errorReply, writeReply } from '../http/http-reply.js';
import { type DriverSocketData, driverSocketBehavior } from './driver-endpoint.js';
import { IngestPipeline } from '../ingest/ingest-pipeline.js';
import { Metrics } from '../runtime/metrics.js';
import { loadUws } from '../runtime/load-uws.js';
import { createTracking, type Tracking } from './create-tracking.js';
import { lastPositions } from '../tracking/position-bus.js';
import { registerTrackingRoutes } from '../http/tracking-routes.js';
import { type TrackSocketData, trackingSocketBehavior } from './track-endpoint.js';

export interface Gateway {
  /** The port it listens on (useful with PORT=0). */
  port: number;
  store: DriverStore;
  metrics: Metrics;
  dispatch: Dispatch;
  tracking: Tracking;
  /**
   * Graceful stop: refuses new connections, writes and acks every accepted
   * batch, closes driver sockets with 1001, then closes the store.
   */
  close(): Promise<void>;
}

/**
 * Builds and starts one gateway: a uWebSockets.js app with the driver
 * stream, the HTTP API, health and metrics, over the configured store.
 * Throws before listening if the native uWebSockets.js binding is missing.
 */
export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const { uws, native } = loadUws(config.allowUwsFallback);
  if (!native) log.warn('uWebSockets.js native binding missing: running on the slow JavaScript imitation (HEXFLEET_ALLOW_UWS_FALLBACK)');
  if (!config.jwtSecret) throw new Error('HEXFLEET_JWT_SECRET is required (at least 32 characters); see hexfleet --help');

  const tokens = new TokenService(config.jwtSecret);
  const metrics = new Metrics();
  const store = createDriverStore(config);
  log.info({ store: store.kind, h3Resolution: config.h3Resolution }, `geo store: ${store.kind}`);
  if (store instanceof RedisDriverStore) watchRedis(store, log);

  const sweeper = new Sweeper(store, metrics, log, config.sweepIntervalMs);
  const dispatch = createDispatch(config, store, metrics, log);
  const tracking = createTracking(config, store, dispatch, metrics, log);
  const pipeline = new IngestPipeline(store, metrics, log, {
    maxPending: config.ingestMaxPending,
    maxInflight: config.ingestMaxInflight,
    flushPings: config.ingestFlushPings,
    onApplied: (batches, outcomes) => tracking.positions.publish(lastPositions(batches, outcomes)),
  });
  const sockets = new Set<WebSocket<DriverSocketData>>();
  const trackSockets = new Set<WebSocket<TrackSocketData>>();
  let shuttingDown = false;

  const app = uws.App();
  app.ws<DriverSocketData>('/v1/driver', driverSocketBehavior({ config, tokens, pipeline, metrics, log, sockets, dispatch }));
  app.ws<TrackSocketData>('/v1/track', trackingSocketBehavior({ config, tokens, hub: tracking.hub, metrics: tracking.metrics, log, sockets: trackSockets }));
  registerTrackingRoutes(app, { config, tokens, log });
  registerHealthRoutes(app, { store, metrics, log, shuttingDown: () => shuttingDown });
  registerDriverRoutes(app, { config, tokens, store, log });
  registerMatchRoutes(app, { config, tokens, match: dispatch.match, saga: dispatch.saga, log });
  app.any('/*', (res) => writeReply(res, errorReply('not_found', 'no such endpoint')));

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  const port = uws.us_socket_local_port(listenSocket);
  sweeper.start();
  log.info({ port, host: config.host }, 'hexfleet gateway listening');

  return {
    port,
    store,
    metrics,
    dispatch,
    tracking,
    async close() {
      if (shuttingDown) return;
      shuttingDown = true;
      uws.us_listen_socket_close(listenSocket);
      await sweeper.stop();
      await dispatch.close();
      await pipeline.drain();
      for (const ws of sockets) {
        ws.getUserData().closed = true;
        ws.end(CloseCodes.going_away.code, 'going_away');
      }
      for (const ws of trackSockets) {
        ws.getUserData().closed = true;
        ws.end(CloseCodes.going_away.code, 'going_away');
      }
      await tracking.close();
      // Also drops idle HTTP keep-alive connections, so no client keeps talking to a stopped gateway.
      // (close() is in the 20.30 binding but missing from its type definitions.)
      (app as TemplatedApp & { close(): void }).close();
      await store.close();
      log.info('hexfleet gateway stopped');
    },
  };
}

/** Logs Redis connection changes (once per change, not per retry) and warns when acks would not survive a Redis restart. */
function watchRedis(store: RedisDriverStore, log: Logger): void {
  let up: boolean | undefined;
  store.redis.on('ready', () => {
    if (up !== true) log.info('redis connected');
    up = true;
    Promise.all([store.redis.config('GET', 'appendonly'), store.redis.config('GET', 'appendfsync')]).then(
      ([aof, fsync]) => {
        const appendfsync = (fsync as string[])[1];
        if ((aof as string[])[1] !== 'yes') {
          log.warn('redis runs without appendonly: acked pings are lost if Redis restarts (set appendonly yes)');
        } else if (appendfsync !== 'always') {
          log.info({ appendfsync }, 'redis fsyncs its append-only file lazily: a machine crash can lose the last seconds of acked pings');
        }
      },
      () => {}, // CONFIG is often disabled on managed Redis: nothing to check.
    );
  });
  store.redis.on('error', (err: Error) => {
    if (up !== false) log.error({ err: err.message }, 'redis unreachable; ingest answers store_unavailable until it is back');
    up = false;
  });
}
