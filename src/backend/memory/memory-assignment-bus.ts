import type { AssignmentEvent } from '../../orders/assignment-events.js';
import type { AssignmentBus } from '../../tracking/assignment-bus.js';

/** One process (memory store): publishing is calling the listeners. */
export class MemoryAssignmentBus implements AssignmentBus {
  private readonly listeners = new Set<(event: AssignmentEvent) => void>();

  publish(event: AssignmentEvent): void {
    for (const l of this.listeners) l(event);
  }

  subscribe(listener: (event: AssignmentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
