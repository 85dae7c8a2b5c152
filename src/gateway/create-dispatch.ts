import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/config-schema.js';
import type { Metrics } from '../runtime/metrics.js';
import { InProcessEventSink } from '../orders/assignment-events.js';
import { BatchMatcher } from '../orders/batch-matcher.js';
import { DeadlinePoller } from '../orders/deadline-poller.js';
import { DispatchMetrics } from '../orders/dispatch-metrics.js';
import type { NearbyReader } from '../geo/driver-store.js';
import { CandidateSearch } from '../matching/candidate-search.js';
import { DispatchPool } from '../matching/dispatch-pool.js';
import type { DriverChannel } from '../orders/driver-channel.js';
import type { EtaProvider } from '../eta/eta-provider.js';
import { GreatCircleEtaProvider } from '../eta/great-circle-eta-provider.js';
import { OsrmEtaProvider } from '../eta/osrm-eta-provider.js';
import { MatchService } from '../orders/match-service.js';
import { OrderSaga } from '../orders/order-saga.js';
import type { OrderStore } from '../orders/order-store.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { ReservedDrivers } from '../orders/reserved-drivers.js';
import { ownershipRegionOf } from '../regions/ownership-region.js';

export interface Dispatch {
  orders: OrderStore;
  saga: OrderSaga;
  match: MatchService;
  channel: DriverChannel;
  events: InProcessEventSink;
  pool: DispatchPool;
  poller: DeadlinePoller;
  reconciler: Reconciler;
  metrics: DispatchMetrics;
  close(): Promise<void>;
}

/**
 * Deadline polls give an order this many poll intervals (at least
 * RECONCILE_GRACE_MIN_MS) before reconciliation calls it stuck: a busy poller
 * works through its due list in batches, and that backlog is not a fault.
 */
const RECONCILE_GRACE_POLLS = 10;
const RECONCILE_GRACE_MIN_MS = 5_000;

/**
 * Builds dispatch (pool, ETA, saga, batch matcher, deadline poller,
 * reconciler) over a backend for one gateway; the backend's stores and
 * channel stay the backend's to close. `background: false` (the reconcile command)
 * starts neither the deadline poller nor the periodic reconciliation.
 */
export function createDispatch(
  config: Config, backend: Backend, metrics: Metrics, log: Logger,
  { background = true, nearby = backend.drivers }: { background?: boolean; nearby?: NearbyReader } = {},
): Dispatch {
  const { drivers, orders, channel } = backend;
  const pool = new DispatchPool({ threads: config.dispatchThreads, maxQueue: config.dispatchMaxQueue, lazy: !background });
  // Every gateway's offers and releases, so candidate search skips reserved drivers; a lost subscription forgets them.
  const reserved = new ReservedDrivers(config.offerTimeoutMs + config.reservationMarginMs);
  const dispatchMetrics = new DispatchMetrics(metrics.registry, {
    poolQueue: () => pool.queueSize,
    poolUtilization: () => pool.utilization,
    openAssignments: async () => (await orders.openOrders().catch(() => [])).length,
    reservedKnown: () => reserved.size,
  });
  const greatCircle = new GreatCircleEtaProvider({ detourFactor: config.etaDetourFactor / 100 });
  const eta: EtaProvider = config.osrmUrl
    ? new OsrmEtaProvider({
      baseUrl: config.osrmUrl,
      timeoutMs: config.osrmTimeoutMs,
      retries: config.osrmRetries,
      breakerThreshold: config.osrmBreakerThreshold,
      halfOpenAfterMs: config.osrmHalfOpenAfterMs,
      fallback: greatCircle,
      hooks: {
        onBreakerState: (state) => {
          for (const s of ['closed', 'open', 'half-open']) dispatchMetrics.breakerState.set({ state: s }, s === state ? 1 : 0);
          if (state !== 'closed') log.warn({ state }, 'routing service circuit breaker');
        },
      },
    })
    : greatCircle;
  // Local observers see this process's transitions; the bus carries them to every gateway's tracking.
  const events = new InProcessEventSink();
  const offBus = events.subscribe((event) => backend.assignments.publish(event));
  const offReserved = backend.assignments.subscribe((event) => reserved.onEvent(event));
  const offGap = backend.positions.onGap((area?: string) => {
    if (area === undefined) reserved.clear();
  });
  // Regions: orders are homed here and only drivers this region owns are reserved (src/ownership/ownership.ts).
  const home = ownershipRegionOf(config);
  const saga = new OrderSaga({
    ...(home !== undefined ? { home: { region: home, ownership: backend.ownership } } : {}),
    orders, candidates: new CandidateSearch(nearby, eta, pool, dispatchMetrics.etaSource, {
      rankInThreadMax: config.dispatchRankInThreadMax, reserved,
      ...(home !== undefined ? { ownership: { region: home, regionsOf: (ids: readonly string[]) => backend.ownership.regionsOf(ids) } } : {}),
    }), channel, events, metrics: dispatchMetrics, log,
    options: {
      offerTimeoutMs: config.offerTimeoutMs,
      leaseMarginMs: config.reservationMarginMs,
      searchLeaseMs: config.searchLeaseMs,
      maxAttempts: config.matchMaxAttempts,
      candidates: config.matchCandidates,
      staleMs: config.staleMs,
      orderRetentionMs: config.orderRetentionMs,
    },
  });
  const batch = new BatchMatcher(saga, pool, log, { windowMs: config.batchWindowMs, areaResolution: config.batchAreaResolution });
  const match = new MatchService(saga, orders, batch, dispatchMetrics, config.idempotencyTtlMs);
  const poller = new DeadlinePoller(orders, saga, log, config.deadlinePollMs);
  const reconciler = new Reconciler({
    orders, drivers, saga, metrics: dispatchMetrics, log,
    options: { offlineMs: config.offlineMs, graceMs: Math.max(RECONCILE_GRACE_MIN_MS, RECONCILE_GRACE_POLLS * config.deadlinePollMs) },
  });
  if (background) {
    poller.start();
    if (config.reconcileIntervalMs > 0) reconciler.start(config.reconcileIntervalMs);
  }
  return {
    orders, saga, match, channel, events, pool, poller, reconciler, metrics: dispatchMetrics,
    async close() {
      await reconciler.stop();
      await poller.stop();
      await batch.close();
      await pool.close();
      offBus();
      offReserved();
      offGap();
    },
  };
}
