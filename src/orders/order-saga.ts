import type { Logger } from 'pino';
import { HexfleetError } from '../protocol/error-codes.js';
import type { AssignmentEvent, AssignmentEventType, EventSink } from './assignment-events.js';
import type { DispatchMetrics } from './dispatch-metrics.js';
import type { CandidateSearch, RankedCandidate } from '../matching/candidate-search.js';
import type { DriverChannel } from './driver-channel.js';
import { type HistoryEvent, isOpen, type OrderDoc, type OrderRequest } from './order.js';
import type { CommitEffects, CommitEvent, NewOrder, OrderStore } from './order-store.js';
import { offeredDoc } from './offered-doc.js';
import type { OwnershipStore } from '../ownership/ownership-store.js';

export interface SagaOptions {
  offerTimeoutMs: number;
  /** How long a reservation outlives its offer deadline (the lease must outlive the offer). */
  leaseMarginMs: number;
  searchLeaseMs: number;
  maxAttempts: number;
  candidates: number;
  staleMs: number;
  orderRetentionMs: number;
}

export interface SagaDeps {
  orders: OrderStore;
  /** Finding and ranking drivers (read-only; reserving is the saga's). */
  candidates: CandidateSearch;
  channel: DriverChannel;
  events: EventSink;
  metrics: DispatchMetrics;
  log: Logger;
  options: SagaOptions;
  /**
   * Regions with ownership (src/ownership/ownership.ts): this region's name and
   * the drivers' ownership records. New orders are homed here; a reservation
   * takes only a driver this region owns (the store's fence); an order homed
   * elsewhere is read-only (`not_home_region`), and so is an accept from a
   * driver this region no longer owns. Absent: no regions, nothing fenced.
   */
  home?: { region: string; ownership: OwnershipStore };
}

/**
 * What a transition logs: an assignment event (also announced on the event
 * sink), or an order event the sink does not carry.
 */
type LoggedType = AssignmentEventType | 'order.created' | 'order.search_resumed' | 'order.deadline_cleared';

type Change = { doc: OrderDoc; effects: Omit<CommitEffects, 'event'>; event: LoggedType; reason?: string };

/**
 * Who caused a transition, as its outbox event names it: `service` (the
 * match API), `driver:<id>` (an offer reply), `deadline` (a deadline
 * poller), `reconciler`, `operator`, `ownership` (the driver's home
 * moved to another region: yieldDriver).
 */
export type Actor = 'service' | 'deadline' | 'reconciler' | 'operator' | 'ownership' | `driver:${string}`;

function isAssignmentEvent(type: LoggedType): type is AssignmentEventType {
  return type.startsWith('assignment.');
}

function commitEvent(type: LoggedType, actor: Actor, reason?: string): CommitEvent {
  return reason === undefined ? { type, actor } : { type, actor, reason };
}

/** Commit retries when another process keeps winning the race: each retry reloads, so this bounds pathologies only. */
const MAX_RACES = 8;

/**
 * The offer saga. Every transition is a compare-and-set commit on the order
 * (see OrderStore): a process decides from the document it loaded, and if
 * another process committed first it reloads and decides again. So any
 * gateway can run any step, a step run twice finds its own result and does
 * nothing, and a process that dies mid-saga leaves an order that the next
 * deadline hands to another process.
 */
export class OrderSaga {
  constructor(private readonly d: SagaDeps) {}

  get options(): SagaOptions {
    return this.d.options;
  }

  get(orderId: string): Promise<OrderDoc | null> {
    return this.d.orders.get(orderId);
  }

  /** Whether `doc` is another region's order, read-only here (see SagaDeps.home). */
  isForeign(doc: OrderDoc): boolean {
    return this.d.home !== undefined && doc.homeRegion !== undefined && doc.homeRegion !== this.d.home.region;
  }

  private refuseForeign(doc: OrderDoc): void {
    if (!this.isForeign(doc)) return;
    throw new HexfleetError('not_home_region', `order "${doc.orderId.slice(0, 128)}" is homed in region "${doc.homeRegion}": only that region may change it (read-only in region "${this.d.home!.region}"); send the request there`);
  }

  /** An accept needs the driver to be this region's (its home may have moved since the offer). */
  private async refuseDriverNotOwned(driverId: string): Promise<void> {
    if (!this.d.home) return;
    const owner = await this.d.home.ownership.get(driverId);
    if (owner?.region === this.d.home.region) return;
    throw new HexfleetError('not_home_region', `driver "${driverId}" is homed in region "${owner?.region ?? '(none yet)'}" (epoch ${owner?.epoch ?? 0}), not "${this.d.home.region}": accept there`);
  }

  /** The home of a new order, and the fence of a reservation: this region (none without regions). */
  private homeRegion(): { homeRegion?: string } {
    return this.d.home ? { homeRegion: this.d.home.region } : {};
  }

  /**
   * Compensates what this region holds for a driver whose ownership moved to
   * another region (a higher epoch was applied here: this region's late
   * writes lose). The order holding the driver's reservation, if it is this
   * region's: offered goes back to searching and is offered to someone else
   * (assignment.expired), accepted is cancelled (assignment.cancelled), both
   * with reason `ownership_moved` and the reservation released, so the
   * driver is never assigned here and in its new region at once. Returns
   * the order as compensated, or null when nothing here held the driver.
   */
  async yieldDriver(driverId: string, now: number): Promise<OrderDoc | null> {
    const held = await this.d.orders.reservationOf(driverId);
    if (!held) return null;
    const reason = 'ownership_moved';
    const out = await this.transition(held.orderId, now, 'ownership', (d) => {
      if (d.driverId !== driverId || d.fence !== held.fence) return null;
      if (d.state === 'offered') {
        const change = this.releaseToSearch(d, 'expired', now);
        change.doc.history[change.doc.history.length - 1]!.reason = reason;
        return { ...change, reason };
      }
      if (d.state !== 'accepted') return null;
      const next: OrderDoc = { ...d, state: 'cancelled', updatedAt: now, history: [...d.history, { at: now, event: 'cancelled', attempt: d.attempt, driverId, reason }] };
      return { doc: next, effects: { ...this.releaseOf(d), deadline: null, retainMs: this.d.options.orderRetentionMs }, event: 'assignment.cancelled', reason };
    }).catch((err: unknown) => {
      // Another region's order holding the driver here is its home's to compensate.
      if (err instanceof HexfleetError && err.code === 'not_home_region') return null;
      throw err;
    });
    if (out?.state === 'searching') return this.search(out, now, undefined, 'ownership');
    return out;
  }

  /**
   * Starts matching an order, or tells what is already there. Returns the
   * document in `searching` state owned by this process (`claimed`), or the
   * existing document, or a conflict.
   */
  async begin(request: OrderRequest, requestHash: string, now: number): Promise<
    { kind: 'claimed'; doc: OrderDoc } | { kind: 'existing'; doc: OrderDoc } | { kind: 'conflict' } | { kind: 'in_flight' }
  > {
    // Most orders are new: try to create the order blind (expected version 0),
    // which saves a read; only a conflict means there is something to look at.
    let doc: OrderDoc | null = null;
    for (let race = 0; race < MAX_RACES; race++) {
      if (race > 0) {
        doc = await this.d.orders.get(request.orderId);
        if (doc && doc.requestHash !== requestHash) return { kind: 'conflict' };
        if (doc) this.refuseForeign(doc);
        if (doc?.state === 'searching' && (doc.leaseUntil ?? 0) > now) return { kind: 'in_flight' };
        if (doc && doc.state !== 'searching' && doc.state !== 'failed') return { kind: 'existing', doc };
      }
      const leaseUntil = now + this.d.options.searchLeaseMs;
      const next: OrderDoc = doc
        ? { ...doc, state: 'searching', leaseUntil, updatedAt: now, history: [...doc.history, { at: now, event: 'search_resumed', attempt: doc.attempt }] }
        : { orderId: request.orderId, state: 'searching', request, requestHash, attempt: 0, tried: [], history: [], leaseUntil, createdAt: now, updatedAt: now, version: 0, ...this.homeRegion() };
      delete next.failReason;
      const event = commitEvent(doc ? 'order.search_resumed' : 'order.created', 'service');
      const r = await this.d.orders.commit(next, doc?.version ?? 0, { deadline: leaseUntil, event }, now);
      if (r.ok) return { kind: 'claimed', doc: { ...next, version: r.version } };
    }
    throw new HexfleetError('internal', 'order kept changing while starting the match');
  }

  /**
   * The fast path of a new immediate order: its candidates first (the read
   * index and ranking here, no backend round trip), then one
   * OrderStore.create that writes the order and offers it to the first
   * candidate the backend can reserve. The outbox gets the events two
   * commits would have given it (order.created, then assignment.offered
   * or assignment.failed), the event sink the same assignment event.
   *
   * Returns `exists` when the order was there already (nothing written:
   * the caller takes the path that reads it, `begin`); `done` with the
   * offered or failed order; `claimed` with the order searching, owned by
   * this process, when every candidate was refused (or another process
   * committed in between, on Cluster): the caller goes on with `search`,
   * skipping `refused`. When the candidate search itself fails (the
   * dispatch pool full), the order is created failed with that error's
   * code, as `abandon` would leave it, and `abandoned` carries the error.
   */
  async create(request: OrderRequest, requestHash: string, now: number): Promise<
    | { kind: 'exists' }
    | { kind: 'done'; doc: OrderDoc }
    | { kind: 'claimed'; doc: OrderDoc; refused: string[] }
    | { kind: 'abandoned'; doc: OrderDoc; error: unknown }
  > {
    const { offerTimeoutMs, leaseMarginMs, staleMs, searchLeaseMs, orderRetentionMs } = this.d.options;
    const leaseUntil = now + searchLeaseMs;
    const doc: OrderDoc = { orderId: request.orderId, state: 'searching', request, requestHash, attempt: 0, tried: [], history: [], leaseUntil, createdAt: now, updatedAt: now, version: 0, ...this.homeRegion() };
    let ranked: RankedCandidate[] = [];
    let error: unknown;
    try {
      ranked = await this.candidates(doc, now);
    } catch (err) {
      error = err;
    }
    const failReason = error === undefined ? 'no_driver' : error instanceof HexfleetError ? error.code : 'internal';
    const offerExpiresAt = now + offerTimeoutMs;
    const failed: OrderDoc = { ...doc, state: 'failed', failReason, history: [{ at: now, event: 'failed', attempt: 0, reason: failReason }] };
    delete failed.leaseUntil;
    const picks = ranked.map((c) => ({ driverId: c.driver.driverId, distanceM: c.distanceM, etaS: c.etaS, etaSource: c.etaSource }));
    const order: NewOrder = {
      doc, effects: { deadline: leaseUntil, event: commitEvent('order.created', 'service') },
      then: picks.length > 0
        ? {
          offer: {
            picks, offerExpiresAt, leaseMs: offerTimeoutMs + leaseMarginMs, staleMs, ...this.homeRegion(), event: commitEvent('assignment.offered', 'service'),
          },
        }
        : { commit: { doc: failed, effects: { deadline: null, retainMs: orderRetentionMs, event: commitEvent('assignment.failed', 'service', failReason) } } },
    };
    const r = await this.d.orders.create(order, now);
    if (!r.ok) return { kind: 'exists' };
    if (r.refused > 0) this.d.metrics.offers.inc({ outcome: 'refused' }, r.refused);
    if (r.version === 1) {
      const claimed = { ...doc, version: 1 };
      if (error !== undefined) return { kind: 'abandoned', doc: await this.abandon(claimed, failReason, now), error };
      return { kind: 'claimed', doc: claimed, refused: ranked.slice(0, r.refused).map((c) => c.driver.driverId) };
    }
    if (r.picked < 0) {
      const saved = { ...failed, version: r.version };
      this.emit('assignment.failed', saved, now, failReason);
      return error === undefined ? { kind: 'done', doc: saved } : { kind: 'abandoned', doc: saved, error };
    }
    const pick = picks[r.picked]!;
    const saved: OrderDoc = { ...offeredDoc(doc, pick, now, offerExpiresAt), version: r.version, ...(r.fence !== undefined ? { fence: r.fence } : {}) };
    this.announceOffer(saved, pick.driverId, now);
    return { kind: 'done', doc: saved };
  }

  /**
   * The nearest suitable drivers not yet tried for the order, ranked by ETA;
   * `refused` (drivers the backend refused during this search) are left out
   * too, so that candidate search knows when nobody else is left.
   */
  candidates(doc: OrderDoc, now: number, refused: readonly string[] = []): Promise<RankedCandidate[]> {
    const { request } = doc;
    return this.d.candidates.find({
      pickup: request.pickup,
      radiusM: request.radiusM,
      ...(request.requirements?.vehicle ? { vehicles: request.requirements.vehicle } : {}),
      exclude: refused.length === 0 ? doc.tried : [...doc.tried, ...refused],
      limit: this.d.options.candidates + doc.tried.length + refused.length,
    }, now);
  }

  /**
   * Offers the order to the best candidate that can still be reserved;
   * fails the order when none is left. `doc` must be `searching` and owned
   * by this process. Returns the resulting document (offered, failed, or
   * whatever another process made of it). `actor`: who set the search off
   * (the offer's and the failure's events name it).
   */
  async search(doc: OrderDoc, now: number, ranked?: RankedCandidate[], actor: Actor = 'service', alreadyRefused: readonly string[] = []): Promise<OrderDoc> {
    let current = doc;
    /** Drivers whose reservation the backend refused during this search (`alreadyRefused`: by the `create` before it). */
    const refused = new Set<string>(alreadyRefused);
    // Rounds go on until nearby() has no driver left that was not refused: a
    // fixed number of rounds answered no_driver while free drivers waited
    // behind the reserved ones nearest the pickup (more than 3 × candidates
    // of them, e.g. at a busy restaurant). Each round offers, or refuses every
    // driver it got and asks for that many more, so the loop ends.
    for (let round = 0; ; round++) {
      if (current.attempt >= this.d.options.maxAttempts) return this.fail(current, 'max_attempts', now, actor);
      const list = (ranked && round === 0 ? ranked : await this.candidates(current, now, [...refused]))
        .filter((c) => !refused.has(c.driver.driverId));
      if (list.length === 0) break;
      for (const c of list) {
        const offered = await this.offer(current, c, now, actor);
        if (offered.kind === 'offered' || offered.kind === 'moved_on') return offered.doc;
        refused.add(c.driver.driverId);
        if (offered.kind === 'conflict') current = offered.doc;
      }
    }
    return this.fail(current, 'no_driver', now, actor);
  }

  /** Reserves one candidate and sends it the offer. */
  private async offer(
    doc: OrderDoc,
    c: RankedCandidate,
    now: number,
    actor: Actor,
  ): Promise<{ kind: 'offered' | 'moved_on' | 'conflict'; doc: OrderDoc } | { kind: 'refused' }> {
    const { offerTimeoutMs, leaseMarginMs, staleMs } = this.d.options;
    const driverId = c.driver.driverId;
    const offerExpiresAt = now + offerTimeoutMs;
    const next = offeredDoc(doc, { driverId, distanceM: c.distanceM, etaS: c.etaS, etaSource: c.etaSource }, now, offerExpiresAt);
    const r = await this.d.orders.commit(next, doc.version, {
      reserve: { driverId, leaseMs: offerTimeoutMs + leaseMarginMs, staleMs, ...this.homeRegion() },
      deadline: offerExpiresAt,
      event: commitEvent('assignment.offered', actor),
    }, now);
    if (!r.ok) {
      if (r.reason !== 'conflict') {
        this.d.metrics.offers.inc({ outcome: 'refused' });
        return { kind: 'refused' };
      }
      const fresh = await this.d.orders.get(doc.orderId);
      if (!fresh || fresh.state !== 'searching') return { kind: 'moved_on', doc: fresh ?? doc };
      return { kind: 'conflict', doc: fresh };
    }
    const saved: OrderDoc = { ...next, version: r.version, ...(r.fence !== undefined ? { fence: r.fence } : {}) };
    this.announceOffer(saved, driverId, now);
    return { kind: 'offered', doc: saved };
  }

  /** After an offer's commit: the event, the metric, and the offer to the driver. */
  private announceOffer(saved: OrderDoc, driverId: string, now: number): void {
    this.emit('assignment.offered', saved, now);
    this.d.metrics.offers.inc({ outcome: 'offered' });
    const { request } = saved;
    // Not awaited: the answer to the order service need not wait for the publish,
    // and an offer that never arrives simply expires and moves on.
    void this.d.channel
      .send(driverId, { type: 'offer', orderId: saved.orderId, pickup: request.pickup, ...(request.dropoff ? { dropoff: request.dropoff } : {}), expiresAt: saved.offerExpiresAt! })
      .catch((err: unknown) => this.d.log.warn({ err: (err as Error).message, orderId: saved.orderId, driverId }, 'offer not published; it will expire'));
  }

  /**
   * Ends a search that this process cannot finish (overload, store error):
   * the order fails with `reason`, so the client's retry starts afresh instead
   * of finding a search nobody runs.
   */
  abandon(doc: OrderDoc, reason: string, now: number): Promise<OrderDoc> {
    return this.fail(doc, reason, now, 'service');
  }

  private async fail(doc: OrderDoc, reason: string, now: number, actor: Actor): Promise<OrderDoc> {
    const out = await this.transition(doc.orderId, now, actor, (d) => {
      if (d.state !== 'searching') return null;
      const next: OrderDoc = { ...d, state: 'failed', failReason: reason, updatedAt: now, history: [...d.history, { at: now, event: 'failed', attempt: d.attempt, reason }] };
      delete next.leaseUntil;
      return { doc: next, effects: { deadline: null, retainMs: this.d.options.orderRetentionMs }, event: 'assignment.failed', reason };
    });
    return out ?? doc;
  }

  /** The driver's answer to an offer. Errors: `offer_expired`, `not_offered`. */
  async reply(orderId: string, driverId: string, accept: boolean, now: number): Promise<OrderDoc> {
    let refusal: 'offer_expired' | 'not_offered' | undefined;
    const actor: Actor = `driver:${driverId}`;
    if (accept) await this.refuseDriverNotOwned(driverId);
    const out = await this.transition(orderId, now, actor, (d) => {
      refusal = undefined;
      if (d.state !== 'offered' || d.driverId !== driverId) {
        // A repeated accept by the assigned driver finds its own result.
        if (accept && d.state === 'accepted' && d.driverId === driverId) return null;
        refusal = d.tried.includes(driverId) ? 'offer_expired' : 'not_offered';
        return null;
      }
      if ((d.offerExpiresAt ?? 0) <= now) {
        refusal = 'offer_expired';
        return null;
      }
      if (accept) {
        const next: OrderDoc = { ...d, state: 'accepted', updatedAt: now, history: [...d.history, { at: now, event: 'accepted', attempt: d.attempt, driverId }] };
        delete next.offerExpiresAt;
        return { doc: next, effects: { extend: { driverId, fence: d.fence!, leaseMs: 0 }, deadline: null }, event: 'assignment.accepted' };
      }
      return this.releaseToSearch(d, 'rejected', now);
    });
    if (refusal) throw new HexfleetError(refusal);
    const doc = out ?? (await this.d.orders.get(orderId));
    if (!doc) throw new HexfleetError('not_offered');
    this.d.metrics.offers.inc({ outcome: accept ? 'accepted' : 'rejected' });
    if (!accept && doc.state === 'searching' && out) return this.search(doc, now, undefined, actor);
    return doc;
  }

  /**
   * Acts on an order whose deadline passed: expires an offer and offers the
   * next candidate, or takes over a search whose process died. Safe to call
   * from every gateway at once: one commit wins, the others find nothing to do.
   * `actor`: the deadline poller, or the reconciler moving a stuck order on.
   */
  async onDeadline(orderId: string, now: number, actor: Actor = 'deadline'): Promise<void> {
    let expired = false;
    const doc = await this.transition(orderId, now, actor, (d) => {
      expired = false;
      if (d.state === 'offered' && (d.offerExpiresAt ?? 0) <= now) {
        expired = true;
        return this.releaseToSearch(d, 'expired', now);
      }
      if (d.state === 'searching' && (d.leaseUntil ?? 0) <= now) {
        const leaseUntil = now + this.d.options.searchLeaseMs;
        return {
          doc: { ...d, leaseUntil, updatedAt: now, history: [...d.history, { at: now, event: 'search_resumed', attempt: d.attempt }] },
          effects: { deadline: leaseUntil }, event: 'order.search_resumed',
        };
      }
      if (!isOpen(d.state) || d.state === 'accepted') {
        // A stale deadline entry (the order moved on): clear it. The commit makes a version, so the log gets an event for it too.
        return {
          doc: { ...d }, effects: { deadline: null, ...(isOpen(d.state) ? {} : { retainMs: this.d.options.orderRetentionMs }) },
          event: 'order.deadline_cleared', reason: 'stale_deadline',
        };
      }
      return null;
    });
    if (expired) this.d.metrics.offers.inc({ outcome: 'expired' });
    if (doc?.state === 'searching') await this.search(doc, now, undefined, actor);
  }

  /** Cancels an open order and releases its driver; a cancelled order stays cancelled. */
  cancel(orderId: string, now: number, actor: Actor = 'service'): Promise<OrderDoc> {
    return this.cancelTrying(orderId, now, actor, MAX_RACES);
  }

  private async cancelTrying(orderId: string, now: number, actor: Actor, tries: number): Promise<OrderDoc> {
    const out = await this.transition(orderId, now, actor, (d) => {
      if (!isOpen(d.state)) return null;
      const next: OrderDoc = { ...d, state: 'cancelled', updatedAt: now, history: [...d.history, { at: now, event: 'cancelled', attempt: d.attempt, ...(d.driverId ? { driverId: d.driverId } : {}) }] };
      delete next.leaseUntil;
      delete next.offerExpiresAt;
      return { doc: next, effects: { ...this.releaseOf(d), deadline: null, retainMs: this.d.options.orderRetentionMs }, event: 'assignment.cancelled' };
    });
    const doc = out ?? (await this.d.orders.get(orderId));
    if (!doc) throw new HexfleetError('not_found', `no order "${orderId.slice(0, 128)}"`);
    // Created between the transition's read and this one (a cancel racing its own match): cancel it now.
    if (isOpen(doc.state) && tries > 1) return this.cancelTrying(orderId, now, actor, tries - 1);
    if (doc.state !== 'cancelled') throw new HexfleetError('order_closed', `the order is ${doc.state}; only open orders can be cancelled`);
    return doc;
  }

  /** The delivery is done: an accepted order completes and its driver is free again. */
  async complete(orderId: string, now: number, actor: Actor = 'service'): Promise<OrderDoc> {
    const out = await this.transition(orderId, now, actor, (d) => {
      if (d.state !== 'accepted') return null;
      const next: OrderDoc = { ...d, state: 'completed', updatedAt: now, history: [...d.history, { at: now, event: 'completed', attempt: d.attempt, driverId: d.driverId! }] };
      return { doc: next, effects: { ...this.releaseOf(d), deadline: null, retainMs: this.d.options.orderRetentionMs }, event: 'assignment.completed' };
    });
    const doc = out ?? (await this.d.orders.get(orderId));
    if (!doc) throw new HexfleetError('not_found', `no order "${orderId.slice(0, 128)}"`);
    if (doc.state !== 'completed') throw new HexfleetError('order_closed', `the order is ${doc.state}; only accepted orders can be completed`);
    return doc;
  }

  /**
   * Flags an accepted order whose driver has gone silent (reconciliation):
   * a `driver_silent` history entry and an `assignment.driver_silent` event.
   * Nothing else changes: no reassignment, the reservation stays; the driver
   * may be riding with a dead phone, and people decide. The entry is
   * committed like a transition, so of several gateways reconciling at once
   * one flags it, and an order is flagged once per silence (not again while
   * the driver's last fix, `lastSeenAt`, is older than the flag; null when
   * the driver has no record). Returns whether this call flagged it.
   */
  async flagSilentDriver(doc: OrderDoc, lastSeenAt: number | null, now: number, actor: Actor = 'reconciler'): Promise<boolean> {
    const out = await this.transition(doc.orderId, now, actor, (d) => {
      if (d.state !== 'accepted' || d.driverId !== doc.driverId || isFlaggedSilent(d, lastSeenAt)) return null;
      const reason = lastSeenAt === null ? 'no_driver_record' : 'silent_past_offline';
      const next: OrderDoc = { ...d, updatedAt: now, history: [...d.history, { at: now, event: 'driver_silent', attempt: d.attempt, driverId: d.driverId!, reason }] };
      return { doc: next, effects: { deadline: null }, event: 'assignment.driver_silent', reason };
    });
    return out !== null;
  }

  /** offered → searching (owned by this process), releasing the driver: the compensation of an offer. */
  private releaseToSearch(d: OrderDoc, outcome: 'rejected' | 'expired', now: number): Change {
    const leaseUntil = now + this.d.options.searchLeaseMs;
    const history: HistoryEvent = outcome;
    const next: OrderDoc = {
      ...d, state: 'searching', leaseUntil, updatedAt: now,
      history: [...d.history, { at: now, event: history, attempt: d.attempt, driverId: d.driverId! }],
    };
    // The released driver is history now: a searching order names no driver.
    for (const k of ['offerExpiresAt', 'driverId', 'fence', 'distanceM', 'etaS', 'etaSource'] as const) delete next[k];
    const event: AssignmentEventType = outcome === 'rejected' ? 'assignment.rejected' : 'assignment.expired';
    return { doc: next, effects: { ...this.releaseOf(d), deadline: leaseUntil }, event };
  }

  private releaseOf(d: OrderDoc): Pick<CommitEffects, 'release'> {
    return d.driverId && d.fence !== undefined && (d.state === 'offered' || d.state === 'accepted')
      ? { release: { driverId: d.driverId, fence: d.fence } }
      : {};
  }

  /**
   * Load, decide, commit; on a lost race, reload and decide again. `decide`
   * returns null when there is nothing to do. Returns the committed document,
   * or null when nothing was committed. Every commit names its event and
   * `actor`, which the store records in its outbox with the commit.
   */
  private async transition(orderId: string, now: number, actor: Actor, decide: (d: OrderDoc) => Change | null): Promise<OrderDoc | null> {
    for (let race = 0; race < MAX_RACES; race++) {
      const d = await this.d.orders.get(orderId);
      if (!d) return null;
      this.refuseForeign(d);
      const change = decide(d);
      if (!change) return null;
      const r = await this.d.orders.commit(change.doc, d.version, { ...change.effects, event: commitEvent(change.event, actor, change.reason) }, now);
      if (r.ok) {
        const saved = { ...change.doc, version: r.version };
        if (isAssignmentEvent(change.event)) this.emit(change.event, saved, now, change.reason, d.driverId);
        return saved;
      }
    }
    throw new HexfleetError('internal', `order ${orderId} kept changing; giving up after ${MAX_RACES} tries`);
  }

  private emit(type: AssignmentEventType, doc: OrderDoc, now: number, reason?: string, driverId = doc.driverId): void {
    const event: AssignmentEvent = { type, orderId: doc.orderId, state: doc.state, attempt: doc.attempt, at: now };
    if (driverId) event.driverId = driverId;
    if (reason) event.reason = reason;
    this.d.events.publish(event);
  }
}

/** Whether an accepted order was already flagged for its driver's current silence (see OrderSaga.flagSilentDriver). */
export function isFlaggedSilent(doc: OrderDoc, lastSeenAt: number | null): boolean {
  return doc.history.some((h) => h.event === 'driver_silent' && h.driverId === doc.driverId && h.at > (lastSeenAt ?? -Infinity));
}
