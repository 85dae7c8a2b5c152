import type { Logger } from 'pino';
import type { AssignmentEvent } from '../../orders/assignment-events.js';
import type { AssignmentBus } from '../../tracking/assignment-bus.js';
import { Listeners } from '../listeners.js';

/**
 * One process (memory store): publishing is calling the listeners, inside
 * `publish`. A listener that throws is logged and skipped (see Listeners).
 */
export class MemoryAssignmentBus implements AssignmentBus {
  private readonly listeners: Listeners<AssignmentEvent>;

  /** `log` reports listeners that throw. */
  constructor(log: Logger) {
    this.listeners = new Listeners((err, event) => log.error({ err, orderId: event.orderId }, 'assignment listener failed'));
  }

  publish(event: AssignmentEvent): void {
    this.listeners.deliver(event);
  }

  subscribe(listener: (event: AssignmentEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.close();
  }
}
