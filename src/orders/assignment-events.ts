import { EventEmitter } from 'node:events';
import type { OrderState } from './order.js';

export type AssignmentEventType =
  | 'assignment.offered'
  | 'assignment.accepted'
  | 'assignment.rejected'
  | 'assignment.expired'
  | 'assignment.cancelled'
  | 'assignment.failed'
  | 'assignment.completed'
  | 'assignment.driver_silent';

export interface AssignmentEvent {
  type: AssignmentEventType;
  orderId: string;
  /** The order's state after the transition. */
  state: OrderState;
  attempt: number;
  at: number;
  driverId?: string;
  reason?: string;
}

/**
 * Where every saga transition is published. Guarantees: `publish` is called
 * once per committed transition, by the process that committed it, after the
 * commit (an event never announces a transition that did not happen); it must
 * not throw. A later issue adds a Kafka implementation.
 */
export interface EventSink {
  publish(event: AssignmentEvent): void;
}

/** Delivers events to subscribers in this process (tests, metrics, tracking). */
export class InProcessEventSink implements EventSink {
  private readonly emitter = new EventEmitter();

  publish(event: AssignmentEvent): void {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: AssignmentEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
