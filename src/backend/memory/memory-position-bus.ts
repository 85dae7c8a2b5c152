import type { Logger } from 'pino';
import type { DriverPosition, PositionBus } from '../../tracking/position-bus.js';

/**
 * One process (memory store): publishing is calling the listeners, inside
 * `publish`. A listener that throws is reported and skipped, so it never
 * stops the others nor reaches the publisher (the ingest pipeline). After
 * `close` nothing is delivered, to old or new listeners.
 */
export class MemoryPositionBus implements PositionBus {
  private readonly listeners = new Set<(positions: readonly DriverPosition[]) => void>();
  private closed = false;

  /** `log` reports listeners that throw; without one they become process warnings. */
  constructor(private readonly log?: Logger) {}

  publish(positions: readonly DriverPosition[]): void {
    if (this.closed || positions.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(positions);
      } catch (err) {
        if (this.log) this.log.error({ err }, 'position listener failed');
        else process.emitWarning(err as Error, 'PositionListenerFailed');
      }
    }
  }

  subscribe(listener: (positions: readonly DriverPosition[]) => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
