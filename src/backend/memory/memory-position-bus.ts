import type { DriverPosition, PositionBus } from '../../tracking/position-bus.js';

/** One process (memory store): publishing is calling the listeners. */
export class MemoryPositionBus implements PositionBus {
  private readonly listeners = new Set<(positions: readonly DriverPosition[]) => void>();

  publish(positions: readonly DriverPosition[]): void {
    if (positions.length === 0) return;
    for (const l of this.listeners) l(positions);
  }

  subscribe(listener: (positions: readonly DriverPosition[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
