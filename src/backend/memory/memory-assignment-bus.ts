import type { Logger } from 'pino';
import type { AssignmentEvent } from '../../orders/assignment-events.js';
import type { AssignmentBus } from '../../tracking/assignment-bus.js';

/**
 * One process (memory store): publishing is calling the listeners, inside
 * `publish`. A listener that throws is reported and skipped, so it never
 * stops the others nor reaches the saga that published. After `close`
 * nothing is delivered, to old or new listeners.
 */
export class MemoryAssignmentBus implements AssignmentBus {
  private readonly listeners = new Set<(event: AssignmentEvent) => void>();
  private closed = false;

  /** `log` reports listeners that throw; without one they become process warnings. */
  constructor(private readonly log?: Logger) {}

  publish(event: AssignmentEvent): void {
    if (this.closed) return;
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        if (this.log) this.log.error({ err, orderId: event.orderId }, 'assignment listener failed');
        else process.emitWarning(err as Error, 'AssignmentListenerFailed');
      }
    }
  }

  subscribe(listener: (event: AssignmentEvent) => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
