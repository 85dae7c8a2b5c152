import type { OrderDoc } from './order.js';

/** What a commit does besides writing the order, atomically with it. */
export interface CommitEffects {
  /**
   * Reserve a driver for this order: only if the driver is available, indexed,
   * not stale (its fix is at most `staleMs` older than the commit's `now`)
   * and holds no reservation. The reservation expires `leaseMs` after the
   * commit applies, by the store's clock (see OrderStore), unless extended or
   * released, so a crashed writer cannot strand a driver. Allocates a new
   * fencing token (returned by commit).
   */
  reserve?: { driverId: string; leaseMs: number; staleMs: number };
  /** Release the driver's reservation, but only if it is still this order's with this fence. */
  release?: { driverId: string; fence: number };
  /**
   * Extend the driver's reservation, only if it is this order's with this
   * fence and still live by the store's clock: it then ends `leaseMs` after
   * this commit applies; `leaseMs: 0` holds it until released (an accepted
   * order keeps its driver until it completes or is cancelled). Otherwise
   * nothing is extended and the rest of the commit still applies.
   */
  extend?: { driverId: string; fence: number; leaseMs: number };
  /** When the order next needs attention (offer deadline, search lease), or null. */
  deadline: number | null;
  /** Keep terminal orders readable this long (ms, by the store's clock); open orders never expire. */
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
 * Clocks. Every duration the store keeps — a reservation's lease, a terminal
 * order's retention, an idempotency key's ttl — is measured by the store's
 * own clock, from the moment the commit (or `bindKey`) applies: one clock for
 * all the gateways that share the store. The `now` a
 * caller passes is the caller's clock and serves only to compare with times
 * callers wrote: a driver's fix time (freshness, on reserve) and deadlines
 * (`due`). It never starts, shortens, lengthens or ends a lease.
 *
 * Why: gateways' clocks differ. Were a lease judged by each caller's `now`,
 * it would end at a different moment for each gateway: one whose clock runs
 * ahead would see every other gateway's reservations as lapsed and reserve
 * their drivers while the holders still act on them, and one running behind
 * would keep a crashed gateway's driver stranded past its lease. Measured by
 * the store alone, a lease ends at one moment for everybody and no gateway's
 * clock can move it. The holder cannot read the store's clock, so it never
 * trusts its own estimate of its lease: every act on a reservation is a
 * commit carrying the reservation's fence, which the store checks (a lapsed
 * or replaced reservation is not this fence's any more). A caller that sets
 * a deadline on its own clock for something its lease must outlive (an
 * offer's deadline) gives the lease a margin for the skew between its clock
 * and the store's (the saga's reservation margin).
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
  /** `now` is the caller's clock (ms): it judges the reserved driver's freshness, nothing else. */
  commit(doc: OrderDoc, expectedVersion: number, effects: CommitEffects, now: number): Promise<CommitResult>;
  /** Orders whose deadline is at or before `now` (the caller's clock, as the deadlines are), oldest first. */
  due(now: number, limit: number): Promise<string[]>;
  reservationOf(driverId: string): Promise<Reservation | null>;
  /**
   * Binds an idempotency key to an order id for `ttlMs` (by the store's
   * clock); returns the order id the key is bound to (the given one, or the
   * one bound before).
   */
  bindKey(key: string, orderId: string, ttlMs: number): Promise<string>;
  /** Every reservation held (reconciliation). */
  reservations(): Promise<Reservation[]>;
  /** Every open order id (reconciliation, metrics). */
  openOrders(): Promise<string[]>;
  /** Releases a reservation if it is still (orderId, fence) and live; true if it did. */
  release(reservation: Reservation): Promise<boolean>;
  close(): Promise<void>;
}
