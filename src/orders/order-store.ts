import { isOpen, type OrderDoc } from './order.js';
import type { OrderEvent } from './order-events.js';
import type { OfferPick } from './offered-doc.js';

/**
 * What a commit tells the event log about itself: the outbox event it
 * records carries these, with the order's new version and the whole order.
 */
export interface CommitEvent {
  /** What happened: `order.created`, `order.search_resumed`, `assignment.offered`, … (see OrderEvent.type). */
  type: string;
  /** Who caused it: `service`, `driver:<id>`, `deadline`, `reconciler`, `operator`. */
  actor: string;
  reason?: string;
}

/**
 * The event of a commit that names none: only callers outside the saga
 * (tests, benchmarks seeding a store) leave it out; every saga transition
 * names its own.
 */
export const UNNAMED_COMMIT_EVENT: Readonly<CommitEvent> = { type: 'order.updated', actor: 'unknown' };

/** What a commit does besides writing the order, atomically with it. */
export interface CommitEffects {
  /**
   * Reserve a driver for this order: only if the driver is available, indexed,
   * not stale (its fix is at most `staleMs` older than the commit's `now`)
   * and holds no reservation. The reservation expires `leaseMs` after the
   * commit applies, by the store's clock (see OrderStore), unless extended or
   * released, so a crashed writer cannot strand a driver. Allocates a new
   * fencing token (returned by commit).
   *
   * `homeRegion` (regions with ownership, see src/ownership/ownership.ts): the
   * driver is reserved only if its ownership record, read in the same atomic
   * step, names this region; a driver another region owns, or nobody owns
   * yet, is `driver_unavailable` (read-only here).
   */
  reserve?: { driverId: string; leaseMs: number; staleMs: number; homeRegion?: string };
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
  /**
   * The outbox event this commit records (type, actor, reason); default
   * UNNAMED_COMMIT_EVENT. Every successful commit records one, named or not,
   * so the log has every version of every order.
   */
  event?: CommitEvent;
}

/** One event waiting in the outbox, with where it sits there. */
export interface OutboxEntry {
  /** Opaque, for `trimOutbox`; only the store that handed it out understands it. */
  position: string;
  event: OrderEvent;
}

/** What `restore` re-derives from an order alone (one definition for every engine). */
export interface RestoredEffects {
  /** The reservation the order holds: offered or accepted, with its driver and fence. */
  holds: { driverId: string; fence: number } | null;
  /** The deadline the saga's commits leave an order in its state with (caller's clock). */
  deadline: number | null;
  open: boolean;
}

/** What restoring `doc` re-derives (see OrderStore.restore); throws on a doc whose version is not a positive integer. */
export function restoredEffects(doc: OrderDoc, o: RestoreOptions = {}): RestoredEffects {
  if (!Number.isInteger(doc.version) || doc.version < 1) {
    throw new Error(`cannot restore order ${doc.orderId} at version ${doc.version}: a restored order has a version ≥ 1`);
  }
  const holding = (doc.state === 'offered' || doc.state === 'accepted') && doc.driverId !== undefined && doc.fence !== undefined;
  const deadline = doc.state === 'searching' ? doc.leaseUntil : doc.state === 'offered' ? doc.offerExpiresAt : undefined;
  return {
    holds: holding && !o.foreign ? { driverId: doc.driverId!, fence: doc.fence! } : null,
    deadline: o.foreign ? null : deadline ?? null,
    open: isOpen(doc.state),
  };
}

/** How an engine's order store is opened. */
export interface OrderStoreOptions {
  /**
   * Keep an outbox (default true). False for a deployment without an event
   * log: nothing would ever trim it, so it would only grow. Every gateway
   * sharing one store must agree: the commits of one opened without an
   * outbox never reach the log.
   */
  outbox?: boolean;
}

/** How `restore` writes a terminal order. */
export interface RestoreOptions {
  /** Keep a restored terminal order readable this long from the restore (ms, by the store's clock); 0 or absent: forever, as a commit without retainMs. */
  retainMs?: number;
  /**
   * The order is another region's (replicated from its home region): it is
   * written read-only, holding no reservation and with no deadline here. Its
   * home region alone moves it on; its driver is fenced by the driver's
   * ownership record, not by a reservation, so a replicated order (or a
   * late one of a region that lost the driver) never holds a driver here.
   */
  foreign?: boolean;
}

export type CommitResult =
  | { ok: true; version: number; fence?: number }
  | { ok: false; reason: 'conflict' | 'driver_unavailable' | 'driver_reserved' };

/** The offer a new order is created with, in the same step (see OrderStore.create). */
export interface FirstOffer {
  /**
   * Candidates, best first. The first that can be reserved, by the rules of
   * CommitEffects.reserve, gets the offer: the order's version 2 is
   * `offeredDoc(doc, pick, now, offerExpiresAt)` holding that reservation.
   */
  picks: readonly OfferPick[];
  offerExpiresAt: number;
  /** As CommitEffects.reserve's. */
  leaseMs: number;
  staleMs: number;
  /** As CommitEffects.reserve's: only picks whose ownership record names this region are reservable. */
  homeRegion?: string;
  /** Version 2's deadline is `offerExpiresAt`; its outbox event is this one. */
  event: CommitEvent;
}

/** A new order and what follows its creation in the same step (see OrderStore.create). */
export interface NewOrder {
  /** Version 1: the order as created (no reservation). */
  doc: OrderDoc;
  effects: Pick<CommitEffects, 'deadline' | 'event'>;
  /**
   * Version 2: an offer to the first pick that can be reserved, or a plain
   * commit without a reservation (a new order that failed: no candidate).
   */
  then: { offer: FirstOffer } | { commit: { doc: OrderDoc; effects: Pick<CommitEffects, 'deadline' | 'retainMs' | 'event'> } };
}

/**
 * `version` is 2 when the second commit applied, 1 when only the creation
 * did (every pick refused). `picked` is the index of the pick reserved, -1
 * when none was (or `then` was a plain commit); `refused` counts the picks
 * tried and refused before it (all of them when none was reserved).
 */
export type CreateResult =
  | { ok: true; version: number; fence?: number; picked: number; refused: number }
  | { ok: false; reason: 'conflict' };

export interface Reservation {
  driverId: string;
  orderId: string;
  fence: number;
  /**
   * When it was taken (the taker's clock), where reserving and committing the
   * order are two steps (Redis Cluster: the driver and the order live on
   * different shards): until the second step lands, no order holds it yet.
   */
  takenAt?: number;
}

/**
 * How long a reservation taken in a first step (`takenAt`) may wait for its
 * order's commit before the reconciler calls it orphaned: far above one
 * commit's round trip, far below a lease.
 */
export const TWO_STEP_GRACE_MS = 30_000;

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
 *
 * The outbox (a transactional outbox: the log learns of a transition from
 * the same atomic step that made it, never from the process afterwards, so
 * a process dying between the two loses nothing):
 * - every successful `commit` records exactly one OrderEvent for the new
 *   version, in the same atomic step: `id` `<orderId>:<version>`, the
 *   caller's `effects.event`, `at` = the commit's `now` (the caller's clock,
 *   as the order's own `updatedAt` and history times are), and `doc` = the
 *   order exactly as `get` returns it right after the commit. A commit that
 *   writes nothing (conflict, refused reservation) records nothing; `restore`
 *   records nothing either (replay must not re-publish what it reads).
 * - `outbox(limit)` returns the oldest events not yet trimmed, oldest first,
 *   in commit order: an order's events come in version order, and an event
 *   is listed only after every earlier event of its order (unless that one
 *   was trimmed). On Redis Cluster only that per-order order holds: each
 *   order shard keeps its own outbox, merged by time, so events of two orders
 *   committed within the same millisecond may come in either order. Reading trims nothing: an event stays, and every reader
 *   gets it again, until `trimOutbox` removes it. Several readers at once
 *   all see the same events (no claiming).
 * - `trimOutbox(positions)` removes those events and returns how many it
 *   removed; positions already trimmed (by this caller or another) are
 *   skipped, so trimming is idempotent and safe to race.
 * - nothing ever leaves the outbox but by `trimOutbox`: while nobody trims
 *   (the log is down), it grows; `outboxDepth` says how far.
 * - a store opened with `outbox: false` (OrderStoreOptions) records nothing;
 *   its outbox stays empty.
 */
export interface OrderStore {
  readonly kind: 'memory' | 'redis';
  get(orderId: string): Promise<OrderDoc | null>;
  /** `now` is the caller's clock (ms): it judges the reserved driver's freshness, nothing else. */
  commit(doc: OrderDoc, expectedVersion: number, effects: CommitEffects, now: number): Promise<CommitResult>;
  /**
   * Creates an order (as `commit(doc, 0, …)`) and commits its version 2 in
   * the same atomic step: the match's fast path, one backend round trip for
   * what was a creation and an offer. An order that exists already (any
   * version) is a `conflict`, and nothing is written. Otherwise version 1
   * is written and recorded exactly as that commit would, then `then`:
   * an offer tries the picks in order and commits the first reservable one
   * as version 2 (with its reservation and fence, deadline
   * `offerExpiresAt`, its own outbox event); a refused pick changes
   * nothing; when every pick is refused the order stays at version 1. A
   * plain commit is version 2 as `commit(doc, 1, effects)` would write it.
   * The outbox thus gets the same two events, in the same order, as two
   * commits would have recorded, and `get` reads what they would have left.
   *
   * Memory, Redis and Sentinel do all of it in one atomic step. Redis
   * Cluster composes it from commits (createByCommits: a reservation there
   * is two steps on two shards anyway), so another process may commit the
   * order between them: its result then says version 1, nothing picked, and
   * the caller goes on as after any lost race (reload, decide again).
   */
  create(order: NewOrder, now: number): Promise<CreateResult>;
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
  /** The oldest `limit` events of the outbox, oldest first (see the outbox guarantees above). */
  outbox(limit: number): Promise<OutboxEntry[]>;
  /** Removes these events from the outbox; returns how many were still there. Idempotent. */
  trimOutbox(positions: readonly string[]): Promise<number>;
  /** How many events the outbox holds. */
  outboxDepth(): Promise<number>;
  /**
   * Writes the order as of `doc.version` (replay: the order as the log last
   * saw it) when the store holds an older version of it or none, and
   * re-derives, in the same atomic step, what the commits would have left:
   * - its reservation: an offered or accepted order with `driverId` and
   *   `fence` holds that driver with that fence, held until released (no
   *   lease: a lease starts at a commit on the store's clock, which a
   *   restore cannot know; an offered order's deadline, restored with it,
   *   hands it to the deadline step, which releases it, and the reconciler
   *   releases one no open order holds). A driver already holding a
   *   reservation with a fence at least as high keeps it (the newer grant
   *   wins, whatever order orders are restored in); a reservation this order
   *   held at its older version and holds no more is released. The fence
   *   counter is raised to at least `doc.fence`, so fences keep growing.
   * - its deadline: `leaseUntil` while searching, `offerExpiresAt` while
   *   offered, none otherwise (the deadlines the saga commits);
   * - open-set membership; a terminal order is kept `retainMs` from now by
   *   the store's clock (forever when 0 or absent), an open one forever.
   * Records no outbox event. Returns true if it wrote, false when the store
   * already held this version or a newer one (then nothing changes): it is
   * idempotent and never takes an order back in version. Throws on a doc
   * whose version is not a positive integer.
   */
  restore(doc: OrderDoc, options?: RestoreOptions): Promise<boolean>;
  close(): Promise<void>;
}
