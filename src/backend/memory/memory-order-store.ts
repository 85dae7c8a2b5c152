import type { MemoryDriverStore } from './memory-driver-store.js';
import type { OrderDoc } from '../../orders/order.js';
import { isOpen } from '../../orders/order.js';
import type { CommitEffects, CommitResult, OrderStore, Reservation } from '../../orders/order-store.js';

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
 */
export class MemoryOrderStore implements OrderStore {
  readonly kind = 'memory' as const;
  private readonly orders = new Map<string, { doc: OrderDoc; expiresAt: number }>();
  private readonly held = new Map<string, Held>();
  private readonly deadlines = new Map<string, number>();
  private readonly keys = new Map<string, { orderId: string; expiresAt: number }>();
  private fence = 0;

  constructor(
    private readonly drivers: MemoryDriverStore,
    /** The store's clock (ms); tests move it forward instead of waiting. */
    private readonly clock: () => number = Date.now,
  ) {}

  async get(orderId: string): Promise<OrderDoc | null> {
    const entry = this.orders.get(orderId);
    if (!entry || entry.expiresAt <= this.clock()) return null;
    return structuredClone(entry.doc);
  }

  async commit(doc: OrderDoc, expectedVersion: number, fx: CommitEffects, now: number): Promise<CommitResult> {
    // One reading of the store's clock for the whole commit: it is one atomic step.
    const at = this.clock();
    const current = this.orders.get(doc.orderId);
    const version = current && current.expiresAt > at ? current.doc.version : 0;
    if (version !== expectedVersion) return { ok: false, reason: 'conflict' };
    let fence: number | undefined;
    if (fx.reserve) {
      const d = this.drivers.peek(fx.reserve.driverId);
      if (!d || d.status !== 'available' || !d.indexed || now - d.ts > fx.reserve.staleMs) return { ok: false, reason: 'driver_unavailable' };
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
    return fence === undefined ? { ok: true, version: version + 1 } : { ok: true, version: version + 1, fence };
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

  async close(): Promise<void> {
    this.orders.clear();
    this.held.clear();
    this.deadlines.clear();
    this.keys.clear();
  }
}
