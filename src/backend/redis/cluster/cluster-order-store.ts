import type { Cluster } from 'ioredis';
import type { DriverStore } from '../../../geo/driver-store.js';
import { isOpen, type OrderDoc } from '../../../orders/order.js';
import {
  type CommitEffects, type CommitResult, type CreateResult, type NewOrder, type OrderStore, type OrderStoreOptions, type OutboxEntry, type Reservation, type RestoreOptions,
  restoredEffects, UNNAMED_COMMIT_EVENT,
} from '../../../orders/order-store.js';
import { createByCommits } from '../../../orders/create-by-commits.js';
import { loadScripts } from '../load-scripts.js';
import { redisCall } from '../redis-call.js';
import { orderOf, outboxEvent } from '../redis-order-store.js';
import { type ClusterLayout, ORDER_SHARDS } from './cluster-layout.js';
import { scanAll } from './scan-all.js';

interface OrderCluster extends Cluster {
  hexfleetCommitOrder(route: string, ...args: (string | number)[]): Promise<[number, number | string, number?]>;
  hexfleetRestoreOrder(route: string, ...args: (string | number)[]): Promise<[number, string?, number?]>;
  hexfleetReserveDriver(reservation: string, ownership: string, orderId: string, fence: number, leaseMs: number, now: number, homeRegion: string): Promise<number>;
  hexfleetHoldReservation(reservation: string, held: string, op: 'release' | 'extend', leaseMs: number): Promise<number>;
  hexfleetRestoreReservation(reservation: string, orderId: string, fence: number, now: number): Promise<number>;
  hexfleetRaiseFence(counter: string, fence: number): Promise<number>;
}

export interface ClusterOrderStoreOptions extends OrderStoreOptions {
  cluster: Cluster;
  layout: ClusterLayout;
  /** The driver store of the same cluster: a reservation checks the driver's record first. */
  drivers: DriverStore;
  /** Resolves once the writes made so far under `key`'s hash tag are durable enough to ack; default: at once. */
  confirm?: (key: string) => Promise<void>;
}

/**
 * Orders on Redis Cluster. An order's keys share the tag of its order shard
 * ({o<k>}, see cluster-layout.ts); a driver's reservation lives on the
 * driver's shard ({h<bucket>}), so a commit that reserves, releases or
 * extends is two steps, each atomic on its shard, in an order whose every
 * intermediate state is safe and finished or undone by someone:
 *
 *   reserve:  driver checked (its record) → fence (INCR) → reserveDriver.lua → commitOrder.lua
 *             a failed order commit releases the reservation at once (compensation);
 *             a crash in between leaves a reservation no order holds, which its
 *             lease ends and the reconciler releases after TWO_STEP_GRACE_MS;
 *   extend:   holdReservation.lua (fenced) → commitOrder.lua (an extension without
 *             its commit only holds the driver a little longer);
 *   release:  commitOrder.lua → holdReservation.lua (fenced; a crash in between
 *             leaves a reservation no open order holds: lease, reconciler).
 *
 * What one Redis does in one step and this does in two: the driver check and
 * the reservation are not one atomic step (the driver's record lives on its
 * area's shard). A driver going offline between them is still offered the
 * order; the offer's deadline moves the saga on, as for any driver who does
 * not answer. No driver is ever reserved twice: the reservation itself is one
 * key, taken by one script.
 */
export class ClusterOrderStore implements OrderStore {
  readonly kind = 'redis' as const;
  private readonly cluster: OrderCluster;
  private readonly layout: ClusterLayout;

  constructor(private readonly options: ClusterOrderStoreOptions) {
    this.cluster = options.cluster as OrderCluster;
    this.layout = options.layout;
    loadScripts(this.cluster, ['commitOrder', 'restoreOrder', 'reserveDriver', 'holdReservation', 'restoreReservation', 'raiseFence'], { routed: true });
  }

  private orderKey(orderId: string): string {
    return this.layout.orderPrefix(orderId) + 'o:' + orderId;
  }

  private async confirm(...keys: string[]): Promise<void> {
    if (this.options.confirm) await Promise.all(keys.map((k) => this.options.confirm!(k)));
  }

  async get(orderId: string): Promise<OrderDoc | null> {
    return orderOf(await redisCall(() => this.cluster.hmget(this.orderKey(orderId), 'doc', 'v', 'f')));
  }

  async commit(doc: OrderDoc, expectedVersion: number, fx: CommitEffects, now: number): Promise<CommitResult> {
    const { orderId } = doc;
    const touched: string[] = [];
    let fence: number | undefined;
    if (fx.reserve) {
      // The version first, as one Redis does: a conflicting commit never takes a driver.
      const v = await redisCall(() => this.cluster.hget(this.orderKey(orderId), 'v'));
      if (Number(v ?? 0) !== expectedVersion) return { ok: false, reason: 'conflict' };
      const { driverId, leaseMs, staleMs, homeRegion } = fx.reserve;
      const view = await this.options.drivers.get(driverId, now);
      if (!view || view.status !== 'available' || !view.indexed || now - view.ts > staleMs) return { ok: false, reason: 'driver_unavailable' };
      const key = this.layout.reservationKey(driverId);
      // A driver already reserved would waste a fence: look first (the script checks again).
      if (await redisCall(() => this.cluster.exists(key))) return { ok: false, reason: 'driver_reserved' };
      const next = await redisCall(() => this.cluster.incr(this.layout.fenceKey));
      const taken = await redisCall(() => this.cluster.hexfleetReserveDriver(key, this.layout.ownershipKey(driverId), orderId, next, leaseMs, now, homeRegion ?? ''));
      if (taken === -1) return { ok: false, reason: 'driver_unavailable' };
      if (taken === 0) return { ok: false, reason: 'driver_reserved' };
      fence = next;
      touched.push(key, this.layout.fenceKey);
    }
    if (fx.extend) {
      const key = this.layout.reservationKey(fx.extend.driverId);
      await redisCall(() => this.cluster.hexfleetHoldReservation(key, `${orderId} ${fx.extend!.fence}`, 'extend', fx.extend!.leaseMs));
      touched.push(key);
    }
    const { version: _v, ...body } = doc;
    const event = fx.event ?? UNNAMED_COMMIT_EVENT;
    const prefix = this.layout.orderPrefix(orderId);
    // An error here is an unknown outcome: a reservation taken above stays until its lease ends or the reconciler releases it.
    const reply = await redisCall(() =>
      this.cluster.hexfleetCommitOrder(
        prefix, prefix, orderId, expectedVersion, JSON.stringify(body), now, isOpen(doc.state) ? 1 : 0,
        fx.deadline ?? -1, fx.retainMs ?? 0,
        '', 0, 0, 0, '', 0, '', 0, 0,
        event.type, event.actor, event.reason ?? '', this.options.outbox === false ? 0 : 1,
        fence ?? '',
      ),
    );
    if (reply[0] !== 1) {
      if (fence !== undefined) await this.holdReservation(fx.reserve!.driverId, `${orderId} ${fence}`, 'release');
      return { ok: false, reason: reply[1] as 'conflict' | 'driver_unavailable' | 'driver_reserved' };
    }
    if (fx.release) {
      await this.holdReservation(fx.release.driverId, `${orderId} ${fx.release.fence}`, 'release');
      touched.push(this.layout.reservationKey(fx.release.driverId));
    }
    await this.confirm(prefix, ...touched);
    const version = Number(reply[1]);
    return fence !== undefined ? { ok: true, version, fence } : { ok: true, version };
  }

  /**
   * The creation and version 2 as commits (createByCommits): a reservation
   * here is the two fenced steps of `commit` on two shards, so one script
   * cannot do it; the saga goes on from version 1 when another process
   * commits in between.
   */
  create(order: NewOrder, now: number): Promise<CreateResult> {
    return createByCommits(this, order, now);
  }

  private holdReservation(driverId: string, held: string, op: 'release' | 'extend', leaseMs = 0): Promise<number> {
    return redisCall(() => this.cluster.hexfleetHoldReservation(this.layout.reservationKey(driverId), held, op, leaseMs));
  }

  /** Every order shard's answer to `ask`, in shard order. */
  private perShard<T>(ask: (prefix: string, shard: number) => Promise<T>): Promise<T[]> {
    return Promise.all(Array.from({ length: ORDER_SHARDS }, (_, k) => redisCall(() => ask(this.layout.orderShardPrefix(k), k))));
  }

  async due(now: number, limit: number): Promise<string[]> {
    const perShard = await this.perShard((p) => this.cluster.zrangebyscore(p + 'o:due', '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit));
    const all: [string, number][] = [];
    for (const flat of perShard) for (let i = 0; i + 1 < flat.length; i += 2) all.push([flat[i]!, Number(flat[i + 1])]);
    return all.sort((a, b) => a[1] - b[1]).slice(0, limit).map(([id]) => id);
  }

  async reservationOf(driverId: string): Promise<Reservation | null> {
    const value = await redisCall(() => this.cluster.get(this.layout.reservationKey(driverId)));
    return value === null ? null : parseReservation(driverId, value);
  }

  async bindKey(key: string, orderId: string, ttlMs: number): Promise<string> {
    const k = this.layout.idempotencyKey(key);
    const set = await redisCall(() => this.cluster.set(k, orderId, 'PX', ttlMs, 'NX'));
    await this.confirm(k);
    if (set === 'OK') return orderId;
    return (await redisCall(() => this.cluster.get(k))) ?? orderId;
  }

  async reservations(): Promise<Reservation[]> {
    const out: Reservation[] = [];
    const marker = 'res:';
    await scanAll(this.cluster, this.layout.reservationPattern, async (keys) => {
      // One GET per key: the keys of one SCAN reply hash to many slots (no MGET across them).
      const values = await Promise.all(keys.map((k) => redisCall(() => this.cluster.get(k))));
      keys.forEach((k, i) => {
        const v = values[i];
        if (v) out.push(parseReservation(k.slice(k.indexOf(marker, this.layout.p.length) + marker.length), v));
      });
    });
    return out;
  }

  async openOrders(): Promise<string[]> {
    return (await this.perShard((p) => this.cluster.smembers(p + 'o:open'))).flat();
  }

  async release(r: Reservation): Promise<boolean> {
    const n = await this.holdReservation(r.driverId, `${r.orderId} ${r.fence}`, 'release');
    await this.confirm(this.layout.reservationKey(r.driverId));
    return n === 1;
  }

  /** Positions are "<shard>/<stream entry id>"; events of one order are in order (one shard), shards are merged by entry time. */
  async outbox(limit: number): Promise<OutboxEntry[]> {
    const perShard = await this.perShard((p) => this.cluster.xrange(p + 'outbox', '-', '+', 'COUNT', limit));
    const all: { shard: number; id: string; fields: string[] }[] = [];
    perShard.forEach((entries, shard) => entries.forEach(([id, fields]) => all.push({ shard, id, fields })));
    all.sort((a, b) => compareStreamIds(a.id, b.id) || a.shard - b.shard);
    return all.slice(0, limit).map(({ shard, id, fields }) => ({ position: `${shard}/${id}`, event: outboxEvent(id, fields) }));
  }

  async trimOutbox(positions: readonly string[]): Promise<number> {
    const byShard = new Map<number, string[]>();
    for (const pos of positions) {
      const at = pos.indexOf('/');
      const shard = Number(pos.slice(0, at));
      const ids = byShard.get(shard);
      if (ids) ids.push(pos.slice(at + 1));
      else byShard.set(shard, [pos.slice(at + 1)]);
    }
    let n = 0;
    for (const [shard, ids] of byShard) n += await redisCall(() => this.cluster.xdel(this.layout.orderShardPrefix(shard) + 'outbox', ...ids));
    return n;
  }

  async outboxDepth(): Promise<number> {
    return (await this.perShard((p) => this.cluster.xlen(p + 'outbox'))).reduce((a, b) => a + b, 0);
  }

  /**
   * The order on its shard first (restoreOrder.lua, which names the
   * reservation an older version held), then the reservations on the
   * drivers' shards: the older one released (fenced), the restored one held.
   */
  async restore(doc: OrderDoc, o: RestoreOptions = {}): Promise<boolean> {
    const fx = restoredEffects(doc, o);
    const { version, ...body } = doc;
    const prefix = this.layout.orderPrefix(doc.orderId);
    const [wrote, oldDriver, oldFence] = await redisCall(() =>
      this.cluster.hexfleetRestoreOrder(prefix, prefix, doc.orderId, version, JSON.stringify(body), fx.open ? 1 : 0, fx.deadline ?? -1, o.retainMs ?? 0, '', 0, '1'),
    );
    if (wrote !== 1) return false;
    const touched = [prefix];
    if (oldDriver) {
      await this.holdReservation(oldDriver, `${doc.orderId} ${oldFence}`, 'release');
      touched.push(this.layout.reservationKey(oldDriver));
    }
    if (fx.holds) {
      const { driverId, fence } = fx.holds;
      const key = this.layout.reservationKey(driverId);
      await redisCall(() => this.cluster.hexfleetRaiseFence(this.layout.fenceKey, fence));
      await redisCall(() => this.cluster.hexfleetRestoreReservation(key, doc.orderId, fence, Date.now()));
      touched.push(key, this.layout.fenceKey);
    }
    await this.confirm(...touched);
    return true;
  }

  /** The connection belongs to the backend, which closes it. */
  async close(): Promise<void> {}
}

/** "orderId fence takenAt", as reserveDriver.lua and restoreReservation.lua write it. */
function parseReservation(driverId: string, value: string): Reservation {
  const parts = value.split(' ');
  const takenAt = Number(parts.pop());
  const fence = Number(parts.pop());
  return { driverId, orderId: parts.join(' '), fence, takenAt };
}

function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}
