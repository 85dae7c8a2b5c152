import type { Logger } from 'pino';
import type { AreaInterest, DriverPosition, PositionBus } from '../../tracking/position-bus.js';
import { Listeners } from '../listeners.js';

const READY: AreaInterest = { ready: Promise.resolve(), release() {} };

/**
 * One process (memory store): publishing is calling the listeners, inside
 * `publish`. A listener that throws is logged and skipped (see Listeners).
 * Nothing to shard: every position is published here, so every area is
 * followed already.
 */
export class MemoryPositionBus implements PositionBus {
  private readonly listeners: Listeners<readonly DriverPosition[]>;

  /** `log` reports listeners that throw. */
  constructor(log: Logger) {
    this.listeners = new Listeners((err) => log.error({ err }, 'position listener failed'));
  }

  publish(positions: readonly DriverPosition[]): void {
    if (positions.length > 0) this.listeners.deliver(positions);
  }

  subscribe(listener: (positions: readonly DriverPosition[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Every area is here already. */
  follow(): AreaInterest {
    return READY;
  }

  /** One process: nothing published is ever missed. */
  onGap(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.listeners.close();
  }
}
