import type { OrderDoc } from './order.js';

/** What a commit does besides writing the order, atomically with it. */
export interface CommitEffects {
  /**
   * Reserve a driver for this order: only if the driver is available, indexed,
   * not stale and holds no reservation. The reservation expires after
   * `leaseMs` unless extended or released, so a crashed writer cannot strand
   * a driver. Allocates a new fencing token (returned by commit).
   */
  reserve?: { driverId: string; leaseMs: number; staleMs: number };
  /** Release the driver's reservation, but only if it is still this order's with this fence. */
  release?: { driverId: string; fence: number };
  /**
   * Extend the driver's reservation, only if it is this order's with this
   * fence; `leaseMs: 0` holds it until released (an accepted order keeps its
   * driver until it completes or is cancelled).
   */
  extend?: { driverId: string; fence: number; leaseMs: number };
  /** When the order next needs attention (offer deadline, search lease), or null. */
  deadline: number | null;
  /** Keep terminal orders readable this long (ms); open orders never expire. */
  retainMs?: number;
}

export type CommitResult =
  | { ok: true; version: number; fence?: number }
  | { ok: false; reason: 'conflict' | 'driver_unavailable' | 'driver_reserved' };

export interface Reservation {
  driverId: string;
  orderId: string;
  fence: number;
}

/**
 * Where assignments live, so that no process owns one: any gateway can
 * continue any order.
 *
 * Guarantees:
 * - `commit` is atomic and conditional: it writes only if the stored version
 *   equals `expectedVersion` (0 for a new order), and then applies every
 *   effect; otherwise it changes nothing. A refused reservation changes nothing
 *   either. So a caller that loses a race reloads and decides again, and
 *   re-running a transition on its own result is a no-op (safe to run twice).
 * - a driver holds at most one reservation, so it is never in two open
 *   assignments; a reservation carries a fencing token that only grows.
 * - `due` lists orders whose deadline has passed, oldest first; several
 *   processes may see the same order, and commit decides who acts.
 */
export interface OrderStore {
  readonly kind: 'memory' | 'redis';
  get(orderId: string): Promise<OrderDoc | null>;
  commit(doc: OrderDoc, expectedVersion: number, effects: CommitEffects, now: number): Promise<CommitResult>;
  due(now: number, limit: number): Promise<string[]>;
  reservationOf(driverId: string): Promise<Reservation | null>;
  /**
   * Binds an idempotency key to an order id for `ttlMs`; returns the order id
   * the key is bound to (the given one, or the one bound before).
   */
  bindKey(key: string, orderId: string, ttlMs: number): Promise<string>;
  /** Every reservation held (reconciliation). */
  reservations(): Promise<Reservation[]>;
  /** Every open order id (reconciliation, metrics). */
  openOrders(): Promise<string[]>;
  /** Releases a reservation if it is still (orderId, fence); true if it did. */
  release(reservation: Reservation): Promise<boolean>;
  close(): Promise<void>;
}
