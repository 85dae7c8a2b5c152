import type { Logger } from 'pino';
import type { StoreTiming } from '../../geo/driver-store.js';
import type { RingPlanner } from '../../geo/ring-planner.js';
import { closeParts } from '../close-parts.js';
import type { Engine, ReadinessCheck } from '../backend.js';
import { LocalDriverChannel } from './local-driver-channel.js';
import { MemoryAssignmentBus } from './memory-assignment-bus.js';
import { MemoryDriverStore } from './memory-driver-store.js';
import { MemoryOrderStore } from './memory-order-store.js';
import { MemoryPositionBus } from './memory-position-bus.js';
import { MemoryRevocationStore } from './memory-revocation-store.js';
import { MemoryOwnershipStore } from './memory-ownership-store.js';

/**
 * Everything in this process: one gateway, nothing survives a restart. The
 * embedded default when no Redis is configured, and the reference every
 * other engine's suites are checked against.
 */
export class MemoryBackend implements Engine {
  readonly kind = 'memory' as const;
  readonly drivers: MemoryDriverStore;
  readonly orders: MemoryOrderStore;
  readonly ownership = new MemoryOwnershipStore();
  readonly channel: LocalDriverChannel;
  readonly positions: MemoryPositionBus;
  readonly assignments: MemoryAssignmentBus;
  readonly revocations: MemoryRevocationStore;
  readonly subscribed = Promise.resolve();
  private closed = false;

  /**
   * `outbox`: record order events (only when an event log relays them: nothing else trims it).
   * `log` reports what the pub/sub parts' listeners throw, as the Redis engine's parts do.
   */
  constructor(options: { timing: StoreTiming; planner: RingPlanner; outbox: boolean }, log: Logger) {
    this.drivers = new MemoryDriverStore(options.planner, options.timing);
    this.orders = new MemoryOrderStore(this.drivers, Date.now, { outbox: options.outbox }, this.ownership);
    this.channel = new LocalDriverChannel(log);
    this.positions = new MemoryPositionBus(log);
    this.assignments = new MemoryAssignmentBus(log);
    this.revocations = new MemoryRevocationStore(log);
  }

  async waitUntilReady(): Promise<void> {}

  async readiness(): Promise<ReadinessCheck[]> {
    return [{ name: 'memory', ok: true }];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeParts(this);
  }
}
