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
 *
 * A listener that throws is reported in the log and skipped: it stops no
 * other listener, of this process or another, and never reaches the
 * publisher (the saga, whose transition is committed already).
 */
export interface AssignmentBus {
  publish(event: AssignmentEvent): void;
  /** Calls `listener` with every event from now on; returns the unsubscribe function (idempotent). */
  subscribe(listener: (event: AssignmentEvent) => void): () => void;
  /**
   * Stops the bus for good (idempotent): afterwards nothing is delivered to
   * its listeners, `publish` publishes nothing, and `subscribe` is a no-op
   * that returns a no-op unsubscribe.
   */
  close(): Promise<void>;
}
