import type { AssignmentEvent, InProcessEventSink } from '../../orders/assignment-events.js';
import type { AssignmentBus } from '../../tracking/assignment-bus.js';

/** One process (memory store): the saga's own sink is every event there is. */
export class MemoryAssignmentBus implements AssignmentBus {
  private readonly offs = new Set<() => void>();

  constructor(private readonly local: InProcessEventSink) {}

  subscribe(listener: (event: AssignmentEvent) => void): () => void {
    const off = this.local.subscribe(listener);
    this.offs.add(off);
    return () => {
      off();
      this.offs.delete(off);
    };
  }

  async close(): Promise<void> {
    for (const off of this.offs) off();
    this.offs.clear();
  }
}
