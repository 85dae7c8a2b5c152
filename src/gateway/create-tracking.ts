import type { Logger } from 'pino';
import type { DriverStore } from '../geo/driver-store.js';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/config-schema.js';
import type { Metrics } from '../runtime/metrics.js';
import type { ReplicatedOrigins } from '../tracking/replicated-origins.js';
import { TrackingHub } from '../tracking/tracking-hub.js';
import { TrackingMetrics } from '../tracking/tracking-metrics.js';

export interface Tracking {
  hub: TrackingHub;
  metrics: TrackingMetrics;
  close(): Promise<void>;
}

/**
 * Waiting positions go out at least this often: the added latency of a
 * throttled position is at most this, and 50 ms keeps a 2 Hz stream smooth.
 */
const FLUSH_MS_MAX = 50;
/** Status changes show within a fifth of the degraded threshold, checked at most every second (one sweep over watched drivers). */
const SWEEP_MS_MAX = 1000;
const SWEEP_MS_MIN = 10;

/** Builds live tracking for one gateway and starts its timers. */
export function createTracking(
  config: Config, backend: Backend, metrics: Metrics, log: Logger,
  { drivers = backend.drivers, origins }: { drivers?: Pick<DriverStore, 'get'>; origins?: ReplicatedOrigins } = {},
): Tracking {
  const { orders, positions, assignments } = backend;
  const trackingMetrics = new TrackingMetrics(metrics.registry);
  const hub = new TrackingHub({
    orders,
    drivers,
    positions,
    assignments,
    metrics: trackingMetrics,
    log,
    origins,
    options: {
      degradedMs: config.degradedMs,
      offlineMs: config.offlineMs,
      maxSubscriptions: config.trackMaxSubscriptions,
      slowConsumerMs: config.trackSlowConsumerMs,
      flushMs: Math.max(1, Math.min(FLUSH_MS_MAX, Math.floor(500 / config.trackMaxHz))),
      sweepMs: Math.max(SWEEP_MS_MIN, Math.min(SWEEP_MS_MAX, Math.floor(config.degradedMs / 5))),
      areaResolution: config.redisAreaResolution,
    },
  });
  hub.start();
  return {
    hub, metrics: trackingMetrics,
    async close() {
      await hub.close();
    },
  };
}
