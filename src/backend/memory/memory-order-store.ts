import type { MemoryDriverStore } from './memory-driver-store.js';
import type { MemoryOwnershipStore } from './memory-ownership-store.js';
import type { OrderDoc } from '../../orders/order.js';
import { isOpen } from '../../orders/order.js';
import { orderEventId, type OrderEvent } from '../../orders/order-events.js';
import {
  type CommitEffects, type CommitResult, type CreateResult, type NewOrder, type OrderStore, type OrderStoreOptions, type OutboxEntry, type Reservation, type RestoreOptions, restoredEffects,
  UNNAMED_COMMIT_EVENT,
} from '../../orders/order-store.js';
import { createResult, secondCommits } from '../../orders/create-by-commits.js';

interface Held extends Reservation {
  expiresAt: number;
}

/**
 * Assignments in the gateway process, next to the memory driver store (one
 * process, so every commit is trivially atomic). Same contract as the Redis
 * store: test/orders/order-store.contract.ts runs against both.
 *
 * Leases, retention and key bindings run on `clock`, the store's clock (see
 * OrderStore): every expiry time is `clock()` at the write plus the
 * duration, and is compared with `clock()` when read. A caller's `now` only
 * judges a driver's freshness.
 *
 * The outbox is a Map from position (a counter) to event, in insertion
 * order, appended in the same synchronous step as the commit it records.
 */
export class MemoryOrderStore implements OrderStore {
  readonly kind = 'memory' as const;
  private readonly orders = new Map<string, { doc: OrderDoc; expiresAt: number }>();
  private readonly held = new Map<string, Held>();
  private readonly deadlines = new Map<string, number>();
  private readonly keys = new Map<string, { orderId: string; expiresAt: number }>();
  private fence = 0;
  private readonly pending = new Map<string, OrderEvent>();
  private position = 0;

  constructor(
    private readonly drivers: MemoryDriverStore,
    /** The store's clock (ms); tests move it forward instead of waiting. */
    private readonly clock: () => number = Date.now,
    private readonly options: OrderStoreOptions = {},
    /** The drivers' home regions (CommitEffects.reserve.homeRegion's fence); absent: every such reservation is refused. */
    private readonly ownership?: MemoryOwnershipStore,
  ) {}

  async get(orderId: string): Promise<OrderDoc | null> {
    const entry = this.orders.get(orderId);
    if (!entry || entry.expiresAt <= this.clock()) return null;
    return structuredClone(entry.doc);
  }

  async commit(doc: OrderDoc, expectedVersion: number, fx: CommitEffects, now: number): Promise<CommitResult> {
    // One reading of the store's clock for the whole commit: it is one atomic step.
    return this.commitAt(doc, expectedVersion, fx, now, this.clock());
  }

  /** Every commit of the creation in one synchronous step (nothing else runs in between), on one reading of the clock. */
  async create(order: NewOrder, now: number): Promise<CreateResult> {
    const at = this.clock();
    const created = this.commitAt(order.doc, 0, order.effects, now, at);
    if (!created.ok) return { ok: false, reason: 'conflict' };
    const steps = secondCommits(order, now);
    let i = 0;
    for (; i < steps.length; i++) {
      const r = this.commitAt(steps[i]!.doc, created.version, steps[i]!.effects, now, at);
      if (r.ok) return createResult(r, i, 'offer' in order.then);
    }
    return createResult(undefined, i, 'offer' in order.then);
  }

  private commitAt(doc: OrderDoc, expectedVersion: number, fx: CommitEffects, now: number, at: number): CommitResult {
    const current = this.orders.get(doc.orderId);
    const version = current && current.expiresAt > at ? current.doc.version : 0;
    if (version !== expectedVersion) return { ok: false, reason: 'conflict' };
    let fence: number | undefined;
    if (fx.reserve) {
      const d = this.drivers.peek(fx.reserve.driverId);
      if (!d || d.status !== 'available' || !d.indexed || now - d.ts > fx.reserve.staleMs) return { ok: false, reason: 'driver_unavailable' };
      const home = fx.reserve.homeRegion;
      if (home !== undefined && this.ownership?.peek(fx.reserve.driverId)?.region !== home) return { ok: false, reason: 'driver_unavailable' };
      if (this.live(fx.reserve.driverId, at)) return { ok: false, reason: 'driver_reserved' };
      fence = ++this.fence;
      this.held.set(fx.reserve.driverId, { driverId: fx.reserve.driverId, orderId: doc.orderId, fence, expiresAt: at + fx.reserve.leaseMs });
    }
    if (fx.release) {
      const r = this.live(fx.release.driverId, at);
      if (r && r.orderId === doc.orderId && r.fence === fx.release.fence) this.held.delete(fx.release.driverId);
    }
    if (fx.extend) {
      const r = this.live(fx.extend.driverId, at);
      if (r && r.orderId === doc.orderId && r.fence === fx.extend.fence) r.expiresAt = fx.extend.leaseMs === 0 ? Infinity : at + fx.extend.leaseMs;
    }
    const saved: OrderDoc = structuredClone({ ...doc, version: version + 1, ...(fence !== undefined ? { fence } : {}) });
    const open = isOpen(doc.state);
    this.orders.set(doc.orderId, { doc: saved, expiresAt: open || !fx.retainMs ? Infinity : at + fx.retainMs });
    if (fx.deadline === null) this.deadlines.delete(doc.orderId);
    else this.deadlines.set(doc.orderId, fx.deadline);
    if (this.options.outbox !== false) this.record(saved, fx, now);
    return fence === undefined ? { ok: true, version: version + 1 } : { ok: true, version: version + 1, fence };
  }

  private record(saved: OrderDoc, fx: CommitEffects, now: number): void {
    const { type, actor, reason } = fx.event ?? UNNAMED_COMMIT_EVENT;
    const event: OrderEvent = { id: orderEventId(saved.orderId, saved.version), orderId: saved.orderId, version: saved.version, type, actor, at: now, doc: structuredClone(saved) };
    if (reason !== undefined) event.reason = reason;
    this.pending.set(String(++this.position), event);
  }

  /** The driver's reservation if it is live at `at` (the store's clock); a lapsed one is dropped. */
  private live(driverId: string, at: number): Held | undefined {
    const r = this.held.get(driverId);
    if (r && r.expiresAt <= at) {
      this.held.delete(driverId);
      return undefined;
    }
    return r;
  }

  async due(now: number, limit: number): Promise<string[]> {
    return [...this.deadlines]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([id]) => id);
  }

  async reservationOf(driverId: string): Promise<Reservation | null> {
    const r = this.live(driverId, this.clock());
    return r ? { driverId: r.driverId, orderId: r.orderId, fence: r.fence } : null;
  }

  async bindKey(key: string, orderId: string, ttlMs: number): Promise<string> {
    const at = this.clock();
    const bound = this.keys.get(key);
    if (bound && bound.expiresAt > at) return bound.orderId;
    this.keys.set(key, { orderId, expiresAt: at + ttlMs });
    return orderId;
  }

  async reservations(): Promise<Reservation[]> {
    const at = this.clock();
    return [...this.held.keys()].flatMap((id) => {
      const r = this.live(id, at);
      return r ? [{ driverId: r.driverId, orderId: r.orderId, fence: r.fence }] : [];
    });
  }

  async openOrders(): Promise<string[]> {
    return [...this.orders.values()].filter((e) => isOpen(e.doc.state)).map((e) => e.doc.orderId);
  }

  async release(r: Reservation): Promise<boolean> {
    const held = this.live(r.driverId, this.clock());
    if (!held || held.orderId !== r.orderId || held.fence !== r.fence) return false;
    this.held.delete(r.driverId);
    return true;
  }

  async outbox(limit: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for (const [position, event] of this.pending) {
      if (out.length >= limit) break;
      out.push({ position, event: structuredClone(event) });
    }
    return out;
  }

  async trimOutbox(positions: readonly string[]): Promise<number> {
    let removed = 0;
    for (const p of positions) if (this.pending.delete(p)) removed++;
    return removed;
  }

  async outboxDepth(): Promise<number> {
    return this.pending.size;
  }

  async restore(doc: OrderDoc, o: RestoreOptions = {}): Promise<boolean> {
    const fx = restoredEffects(doc, o);
    const at = this.clock();
    const current = this.orders.get(doc.orderId);
    const stored = current && current.expiresAt > at ? current.doc : undefined;
    if (stored && stored.version >= doc.version) return false;
    // The reservation the older version held and this one does not: the commits in between released it.
    if (stored?.driverId !== undefined && stored.fence !== undefined && !(fx.holds?.driverId === stored.driverId && fx.holds.fence === stored.fence)) {
      const r = this.live(stored.driverId, at);
      if (r && r.orderId === doc.orderId && r.fence === stored.fence) this.held.delete(stored.driverId);
    }
    if (fx.holds) {
      const { driverId, fence } = fx.holds;
      this.fence = Math.max(this.fence, fence);
      const r = this.live(driverId, at);
      if (r && r.orderId === doc.orderId && r.fence === fence) r.expiresAt = Infinity;
      else if (!r || r.fence < fence) this.held.set(driverId, { driverId, orderId: doc.orderId, fence, expiresAt: Infinity });
    }
    this.orders.set(doc.orderId, { doc: structuredClone(doc), expiresAt: fx.open || !o.retainMs ? Infinity : at + o.retainMs });
    if (fx.deadline === null) this.deadlines.delete(doc.orderId);
    else this.deadlines.set(doc.orderId, fx.deadline);
    return true;
  }

  async close(): Promise<void> {
    this.pending.clear();
    this.orders.clear();
    this.held.clear();
    this.deadlines.clear();
    this.keys.clear();
  }
}

