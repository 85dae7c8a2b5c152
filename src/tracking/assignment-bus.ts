import type { AssignmentEvent } from '../orders/assignment-events.js';

/**
 * Saga events of every gateway, delivered to this process: what lets a
 * customer on gateway B see a transition committed on gateway A.
 *
 * Guarantees: `publish` is called by the process that committed the
 * transition, after the commit; listeners of this process get the event
 * synchronously inside `publish`, other gateways at most once and in publish
 * order per publisher (no order across gateways: a listener that cares
 * compares `at`). Nothing is replayed: a listener that starts late reads the
 * order from the order store. `publish` never throws and never waits for the
 * network.
 */
export interface AssignmentBus {
  publish(event: AssignmentEvent): void;
  subscribe(listener: (event: AssignmentEvent) => void): () => void;
  close(): Promise<void>;
}
