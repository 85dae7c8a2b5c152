import type { RevocationStore } from '../auth/revocation-store.js';
import type { EventLog } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import type { DriverStore } from '../geo/driver-store.js';
import type { DriverChannel } from '../orders/driver-channel.js';
import type { OrderStore } from '../orders/order-store.js';
import type { OwnershipStore } from '../ownership/ownership-store.js';
import type { AssignmentBus } from '../tracking/assignment-bus.js';
import type { PositionBus } from '../tracking/position-bus.js';

/** The engines a configuration can select (`HEXFLEET_STORE`). */
export const BACKEND_KINDS = ['memory', 'redis', 'sentinel', 'cluster'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** One dependency's state, as `/readyz` reports it. */
export interface ReadinessCheck {
  /** What was checked, e.g. `redis`. */
  name: string;
  ok: boolean;
  /** The cause when not ok, in words an operator can act on. */
  detail?: string;
}

/**
 * One engine's parts: everything a gateway keeps outside its own process
 * except the event log. The parts share the engine's connections, which the
 * engine owns: the parts' own `close()` never closes them, the engine's does.
 *
 * Guarantees common to every engine (each part's interface states its own):
 * - the driver store and the order store see the same drivers, so a
 *   reservation can check a driver's record in the same atomic step;
 * - the channel and the buses reach every gateway sharing the engine (one
 *   process for `memory`), at most once, with nothing replayed;
 * - `close()` is idempotent and closes the parts first, then the connections.
 */
export interface Engine {
  readonly kind: BackendKind;
  readonly drivers: DriverStore;
  readonly orders: OrderStore;
  /** The drivers' home regions and epochs (regions; the order store's reservation fence reads the same records). */
  readonly ownership: OwnershipStore;
  /** Offers to a driver's socket on whichever gateway holds it. */
  readonly channel: DriverChannel;
  /** Applied positions, to every gateway's tracking. */
  readonly positions: PositionBus;
  /** Saga transitions, to every gateway's tracking. */
  readonly assignments: AssignmentBus;
  /** Token revocations, stored and announced to every gateway. */
  readonly revocations: RevocationStore;
  /**
   * Resolves once this process receives what other processes publish on the
   * channel and the assignment bus. Positions come per area once followed
   * (`positions.follow(...).ready`).
   */
  readonly subscribed: Promise<void>;
  /** Resolves once the engine answers; rejects with `store_unavailable` after `timeoutMs`. Serving does not need it. */
  waitUntilReady(timeoutMs: number): Promise<void>;
  /** Every dependency of the engine, checked now; never rejects. */
  readiness(): Promise<ReadinessCheck[]>;
  close(): Promise<void>;
}

/**
 * What configuration selects (`createBackend`): one engine, and the durable
 * event log when one is configured. Readiness covers both; `close()` closes
 * the log, then the engine.
 */
export interface Backend extends Engine {
  /** The event log (Kafka): every acked ping and every order transition is in it. Absent: none configured. */
  readonly log: EventLog | undefined;
  /** The log's topics (named even without a log). */
  readonly topics: Topics;
}
