import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import type { Dispatch } from './create-dispatch.js';
import type { DriverStore } from '../geo/driver-store.js';
import { MemoryDriverStore } from '../backend/memory/memory-driver-store.js';
import { RedisDriverStore } from '../backend/redis/redis-driver-store.js';
import type { Metrics } from '../runtime/metrics.js';
import type { AssignmentBus } from '../tracking/assignment-bus.js';
import { MemoryAssignmentBus } from '../backend/memory/memory-assignment-bus.js';
import { MemoryPositionBus } from '../backend/memory/memory-position-bus.js';
import type { PositionBus } from '../tracking/position-bus.js';
import { RedisAssignmentBus } from '../backend/redis/redis-assignment-bus.js';
import { RedisPositionBus } from '../backend/redis/redis-position-bus.js';
import { TrackingHub } from '../tracking/tracking-hub.js';
import { TrackingMetrics } from '../tracking/tracking-metrics.js';

export interface Tracking {
  hub: TrackingHub;
  positions: PositionBus;
  assignments: AssignmentBus;
  metrics: TrackingMetrics;
  /** Resolves once positions and events of other gateways reach this one. */
  ready: Promise<void>;
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

/** The buses that go with a driver store (same backend, same connection): memory in one process, Redis pub/sub across gateways. */
function busesOf(drivers: DriverStore, dispatch: Dispatch, log: Logger): { positions: PositionBus; assignments: AssignmentBus; ready: Promise<void> } {
  if (drivers instanceof MemoryDriverStore) {
    return { positions: new MemoryPositionBus(), assignments: new MemoryAssignmentBus(dispatch.events), ready: Promise.resolve() };
  }
  if (drivers instanceof RedisDriverStore) {
    const positions = new RedisPositionBus(drivers.fanout, drivers.keyPrefix, log);
    const assignments = new RedisAssignmentBus(drivers.fanout, drivers.keyPrefix, dispatch.events, log);
    return { positions, assignments, ready: Promise.all([positions.ready, assignments.ready]).then(() => undefined) };
  }
  throw new Error(`no tracking buses for a ${drivers.kind} driver store`);
}

/** Builds live tracking for one gateway and starts its timers. */
export function createTracking(config: Config, drivers: DriverStore, dispatch: Dispatch, metrics: Metrics, log: Logger): Tracking {
  const { positions, assignments, ready } = busesOf(drivers, dispatch, log);
  const trackingMetrics = new TrackingMetrics(metrics.registry);
  const hub = new TrackingHub({
    orders: dispatch.orders,
    drivers,
    positions,
    assignments,
    metrics: trackingMetrics,
    log,
    options: {
      degradedMs: config.degradedMs,
      offlineMs: config.offlineMs,
      maxSubscriptions: config.trackMaxSubscriptions,
      slowConsumerMs: config.trackSlowConsumerMs,
      flushMs: Math.max(1, Math.min(FLUSH_MS_MAX, Math.floor(500 / config.trackMaxHz))),
      sweepMs: Math.max(SWEEP_MS_MIN, Math.min(SWEEP_MS_MAX, Math.floor(config.degradedMs / 5))),
    },
  });
  hub.start();
  return {
    hub, positions, assignments, metrics: trackingMetrics, ready,
    async close() {
      await hub.close();
      await positions.close();
      await assignments.close();
    },
  };
}
