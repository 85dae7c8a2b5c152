import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/config-schema.js';
import type { OrderSaga } from '../orders/order-saga.js';
import { OwnershipApplier } from '../regions/ownership-applier.js';
import { OwnershipClaimer } from '../regions/ownership-claimer.js';
import { OwnershipMetrics } from '../regions/ownership-metrics.js';
import { ownershipRegionOf, replicationSourcesOf } from '../regions/ownership-region.js';

/** A gateway's ownership parts (none without regions: see ownershipRegionOf). */
export interface OwnershipParts {
  /** Claims or moves a connecting driver (the driver endpoint calls it once per connection). */
  claimer: OwnershipClaimer | undefined;
  /** Starts applying the other regions' ownership records (with the log workers, after listening). */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Ownership in a gateway (src/ownership/ownership.ts): the claimer for
 * connecting drivers, and the applier of the other regions' records whose
 * moves away from this region compensate through `saga.yieldDriver`. The
 * saga's fence itself is set by createDispatch from the same config.
 */
export function startOwnership(
  config: Config, backend: Backend, saga: OrderSaga, isUnreachable: (region: string) => boolean, registry: Registry, logger: Logger,
): OwnershipParts {
  const region = ownershipRegionOf(config);
  if (region === undefined) return { claimer: undefined, start() {}, async stop() {} };
  const metrics = new OwnershipMetrics(registry);
  const claimer = new OwnershipClaimer({
    region, store: backend.ownership, isUnreachable, metrics, logger,
    ...(backend.log ? { log: { eventLog: backend.log, topic: backend.topics.ownership } } : {}),
  });
  const applier = backend.log
    ? new OwnershipApplier({
      log: backend.log, topics: backend.topics, prefix: config.kafkaTopicPrefix, region, sources: replicationSourcesOf(config),
      store: backend.ownership, onMovedAway: (driverId) => saga.yieldDriver(driverId, Date.now()),
      partitions: config.kafkaPartitions, metrics, logger,
    })
    : undefined;
  return {
    claimer,
    start() {
      void applier?.start();
    },
    async stop() {
      await applier?.stop();
    },
  };
}
