import type { Logger } from 'pino';
import type { TemplatedApp } from 'uWebSockets.js';
import { Authorizer } from '../auth/authorize.js';
import type { Backend } from '../backend/backend.js';
import { createBackend } from '../backend/create-backend.js';
import { startScheduledBackups } from '../backup/scheduled-backups.js';
import type { Config } from '../config/config-schema.js';
import { LogMetrics } from '../eventlog/log-metrics.js';
import type { DriverStore } from '../geo/driver-store.js';
import { Sweeper } from '../geo/sweeper.js';
import { registerAdminRoutes } from '../http/admin-routes.js';
import { registerDriverRoutes } from '../http/driver-routes.js';
import { readiness, registerHealthRoutes } from '../http/health-routes.js';
import { errorReply, writeReply } from '../http/http-reply.js';
import { registerMatchRoutes } from '../http/match-routes.js';
import { HttpRateLimiter } from '../http/rate-limit.js';
import { registerRegionsRoutes } from '../http/regions-routes.js';
import { registerApiDocsRoutes } from '../http/api-docs-routes.js';
import { registerTrackingRoutes } from '../http/tracking-routes.js';
import { loadOpsAssets } from '../ops-map/ops-map-assets.js';
import { registerOpsMapRoutes } from '../ops-map/ops-map-routes.js';
import { OpsOrderFeed } from '../ops-map/ops-order-feed.js';
import { IngestPipeline, logJournal } from '../ingest/ingest-pipeline.js';
import { PingIntake } from '../ingest/ping-intake.js';
import { loadUws } from '../runtime/load-uws.js';
import { Metrics } from '../runtime/metrics.js';
import { configSnapshot } from '../audit/config-snapshot.js';
import { lastPositions } from '../tracking/position-bus.js';
import { ReplicatedOrigins } from '../tracking/replicated-origins.js';
import { ReadIndex } from '../readindex/read-index.js';
import { parseMarkets } from '../geo/market-area.js';
import { parseRegionEndpoints } from '../config/region-endpoints.js';
import { RegionProber } from '../regions/region-prober.js';
import { type Audit, createAudit } from './create-audit.js';
import { startAdminListener } from './admin-listener.js';
import { createDispatch, type Dispatch } from './create-dispatch.js';
import { createTracking, type Tracking } from './create-tracking.js';
import { type DriverSocketData, driverEndpoint } from './driver-endpoint.js';
import { Identity } from './identity.js';
import { type LogWorkers, startLogWorkers } from './log-workers.js';
import { startOwnership } from './start-ownership.js';
import { tlsFilesOf } from './tls-files.js';
import { TlsListener } from './tls-listener.js';
import { type TrackSocketData, trackEndpoint } from './track-endpoint.js';

/** Open orders one /v1/ops/orders answer reads: a city's worth (each is one order read). */
const OPS_MAX_ORDERS = 500;
/** Saga transitions the operations map can catch up on: a page polling every second misses none below ~1,000/s. */
const OPS_MAX_EVENTS = 1000;

export interface Gateway {
  /** The port it listens on (useful with PORT=0). */
  port: number;
  /** The admin listener's port (/metrics, /readyz details; useful with HEXFLEET_ADMIN_PORT=0); undefined with -1. */
  adminPort: number | undefined;
  backend: Backend;
  /** The backend's driver store. */
  store: DriverStore;
  metrics: Metrics;
  dispatch: Dispatch;
  tracking: Tracking;
  /** The audit trail (HEXFLEET_AUDIT_LOG, <prefix>.audit) and the guard that refuses addresses cooling off; `audit.log.reopen()` on SIGHUP. */
  audit: Audit;
  /** The follower of the driver index that answers nearby reads (Redis engines with HEXFLEET_READ_INDEX=local). */
  readIndex: ReadIndex | undefined;
  /** The listen socket: https/wss when HEXFLEET_TLS_CERT_FILE is set; `reload()` loads the certificate again (as SIGHUP does). */
  listener: TlsListener;
  /**
   * Graceful stop: refuses new connections, writes and acks every accepted
   * batch, closes driver sockets with 1001, then closes the backend.
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

  // Throws without HEXFLEET_JWT_SECRET or a JWKS.
  const identity = new Identity(config, log);
  const { tokens } = identity;
  // Every route and frame handler asks it, with its row of RBAC_TABLE.
  const access = new Authorizer(tokens, identity.mfa);
  // Per token role and subject, weighted by cost: one caller cannot starve the API for the others.
  const limiter = new HttpRateLimiter({
    service: { perSec: config.httpServiceRatePerSec, burst: config.httpServiceBurst },
    user: { perSec: config.httpUserRatePerSec, burst: config.httpUserBurst },
  });
  const metrics = new Metrics();
  const logMetrics = new LogMetrics(metrics.registry);
  const audit = createAudit(config, log, metrics.registry);
  const backend = createBackend(config, log, { logMetrics, registry: metrics.registry });
  const store = backend.drivers;
  log.info({ store: backend.kind, h3Resolution: config.h3Resolution }, `backend: ${backend.kind}`);

  const sweeper = new Sweeper(store, metrics, log, config.sweepIntervalMs);
  // On a Redis engine, nearby reads are answered by a follower of the driver index in this process (issue 10),
  // holding the drivers of HEXFLEET_MARKETS (every area when unset).
  const markets = parseMarkets(config.markets, config.redisAreaResolution);
  const readIndex = backend.kind !== 'memory' && config.readIndex === 'local'
    ? new ReadIndex(store, backend.positions, {
      resolution: config.h3Resolution,
      timing: { staleMs: config.staleMs, offlineMs: config.offlineMs, retentionMs: config.retentionMs },
      maxLagMs: config.readIndexMaxLagMs,
      sweepIntervalMs: config.sweepIntervalMs,
      markets,
      areaResolution: config.redisAreaResolution,
      maxRadiusM: config.nearbyMaxRadiusM,
    }, metrics.registry, log)
    : undefined;
  const nearby = readIndex ?? store;
  const dispatch = createDispatch(config, backend, metrics, log, { nearby });
  // Which last-known positions came from another region (issue 12): heard before tracking hears them, so it can show them.
  const origins = new ReplicatedOrigins();
  const unobserveOrigins = backend.positions.subscribe((p) => origins.observe(p));
  // A subscriber's first status reads the driver's last-known position from the read index too (no Redis round trip).
  const tracking = createTracking(config, backend, metrics, log, { drivers: readIndex ?? store, origins });
  if (backend.log) log.info({ topics: backend.topics }, 'event log: Kafka; an ack means the pings are stored and in the log');
  const pipeline = new IngestPipeline(store, metrics, log, {
    maxPending: config.ingestMaxPending,
    maxInflight: config.ingestMaxInflight,
    flushPings: config.ingestFlushPings,
    onApplied: (batches, outcomes) => backend.positions.publish(lastPositions(batches, outcomes)),
  }, backend.log ? logJournal(backend.log, backend.topics.positions) : undefined);
  const intake = new PingIntake(pipeline, metrics, { maxBatch: config.maxBatch, maxFutureMs: config.maxFutureMs, maxAgeMs: config.maxAgeMs });
  // Regions: a connecting driver is claimed for this region, or moved here when its home is unreachable (src/regions/ownership-claimer.ts).
  const ownership = startOwnership(config, backend, dispatch.saga, (region) => regions.isUnreachable(region), metrics.registry, log);
  const drivers = driverEndpoint({
    guard: audit.guard, config, access, intake, saga: dispatch.saga, channel: backend.channel, metrics, log, ...(ownership.claimer ? { ownership: ownership.claimer } : {}),
  });
  const trackers = trackEndpoint({ guard: audit.guard, config, access, hub: tracking.hub, metrics, trackingMetrics: tracking.metrics, log });
  let shuttingDown = false;
  const healthBase = { backend, metrics, log, shuttingDown: () => shuttingDown };
  // GET /v1/regions: this region from this gateway's state, the others (HEXFLEET_REGION_ENDPOINTS) as last probed.
  const regions = new RegionProber({
    region: config.region || 'default',
    endpoints: parseRegionEndpoints(config.regionEndpoints),
    intervalMs: config.regionProbeIntervalMs,
    timeoutMs: config.regionProbeTimeoutMs,
    local: {
      ready: async () => (await readiness(healthBase)).status === 200,
      connectedDrivers: async () => (await metrics.driverConnections.get()).values[0]?.value ?? 0,
      pingsApplied: async () => (await metrics.pingsApplied.get()).values[0]?.value ?? 0,
    },
  }, metrics.registry, log);
  // A region found unreachable: drivers already connected here whose home it was move here now, not at their next reconnect.
  const claimer = ownership.claimer;
  if (claimer) regions.onRegionLost((lost) => void claimer.onRegionLost(lost));
  // The operations map (/ops): its page and files, read once here, and the orders it polls.
  const opsAssets = loadOpsAssets({ degradedMs: config.degradedMs, offlineMs: config.offlineMs, tileUrl: config.opsTileUrl, region: config.region });
  const opsFeed = new OpsOrderFeed({ orders: backend.orders, assignments: backend.assignments, options: { maxOrders: OPS_MAX_ORDERS, maxEvents: OPS_MAX_EVENTS } });
  // Set once the log workers run (after the admin listener opens): until then readiness shows no replication.
  let logWorkers: LogWorkers | undefined;
  const health = { ...healthBase, regions: () => regions.reachable(), replication: () => logWorkers?.replication() };

  // Every route goes in here: a TLS certificate reload mounts them on a new app (see TlsListener).
  const mount = (app: TemplatedApp): void => {
    app.ws<DriverSocketData>('/v1/driver', drivers.behavior);
    app.ws<TrackSocketData>('/v1/track', trackers.behavior);
    registerTrackingRoutes(app, { guard: audit.guard, config, access, log, limiter });
    registerHealthRoutes(app, health, { kind: 'public', access, guard: audit.guard });
    registerRegionsRoutes(app, { regions, access, guard: audit.guard, log });
    registerApiDocsRoutes(app, { config, access, guard: audit.guard, log });
    registerDriverRoutes(app, { guard: audit.guard, config, access, store, nearby, origins, log, limiter });
    registerMatchRoutes(app, { guard: audit.guard, config, access, match: dispatch.match, saga: dispatch.saga, log, limiter });
    registerAdminRoutes(app, { guard: audit.guard, tokens, access, revocations: backend.revocations, log });
    registerOpsMapRoutes(app, { assets: opsAssets, feed: opsFeed, access, guard: audit.guard, log });
    app.any('/*', (res) => writeReply(res, errorReply('not_found', 'no such endpoint')));
  };

  // Before listening: a configuration that cannot back up (memory engine, bad key file) stops the start here.
  const backups = startScheduledBackups(config, backend, metrics.registry, log);
  // Before listening: what was revoked before this gateway started is refused from its first request.
  await identity.start(backend.revocations, [drivers, trackers]);
  // Before the public port: an admin port that cannot be bound stops the start with nothing public open.
  const admin = await startAdminListener(uws, config, health);
  const listener = await TlsListener.open(uws, {
    host: config.host, port: config.port, tls: tlsFilesOf(config), watchIntervalMs: config.tlsWatchIntervalMs, mount, registry: metrics.registry,
  }, log).catch(async (err: unknown) => {
    admin?.close();
    // The audit file (and its Kafka client) of a gateway that never listened.
    await audit.log.close();
    throw err;
  });
  const port = listener.port;
  audit.log.record({ action: 'config.start', outcome: 'success', details: { port, config: configSnapshot(config) } });
  sweeper.start();
  regions.start();
  opsFeed.start();
  // After dispatch is built: the relay publishes what its commits record.
  logWorkers = startLogWorkers(config, backend, metrics, logMetrics, log);
  ownership.start();
  // The message stays the same with or without TLS (log searches and the CLI tests match it); `protocols` says which.
  log.info({ port, host: config.host, protocols: listener.secure ? 'https, wss' : 'http, ws', tls: listener.certificate ?? false }, 'hexfleet gateway listening');

  return {
    port,
    adminPort: admin?.port,
    backend,
    store,
    metrics,
    dispatch,
    tracking,
    readIndex,
    audit,
    listener,
    async close() {
      if (shuttingDown) return;
      shuttingDown = true;
      listener.stopListening();
      regions.stop();
      opsFeed.stop();
      // First: a backup in progress is abandoned (its partial file deleted), not waited for.
      await backups?.stop();
      await sweeper.stop();
      await dispatch.close();
      // After dispatch: its last commits' events are relayed by this gateway, or by the next relay that runs.
      await logWorkers?.stop();
      await ownership.stop();
      await pipeline.drain();
      drivers.closeAll();
      trackers.closeAll();
      identity.close();
      await tracking.close();
      unobserveOrigins();
      await readIndex?.close();
      // Also drops idle HTTP keep-alive connections, so no client keeps talking to a stopped gateway.
      listener.closeApps();
      // Last to go: metrics and readiness stay readable while the gateway drains.
      admin?.close();
      await backend.close();
      await audit.log.close();
      log.info('hexfleet gateway stopped');
    },
  };
}
