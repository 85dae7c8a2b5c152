import type { AssignmentEvent } from '../orders/assignment-events.js';

/**
 * Saga events of every gateway, delivered to this process: what lets a
 * customer on gateway B see a transition committed on gateway A.
 *
 * Guarantees: an event committed in this process reaches local listeners
 * synchronously, when the saga publishes it; events committed elsewhere
 * arrive at most once, in commit order per committing gateway (no order
 * across gateways: a listener that cares compares `at`). Nothing is replayed:
 * a listener that starts late reads the order from the order store.
 */
export interface AssignmentBus {
  subscribe(listener: (event: AssignmentEvent) => void): () => void;
  close(): Promise<void>;
}
