import type { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import { bucketOf } from './redis-layout.js';
import { redisCall } from './redis-call.js';
import { loadScripts } from './load-scripts.js';
import type { ReplicaAck } from './replica-ack.js';
import type { OrderDoc } from '../../orders/order.js';
import { isOpen } from '../../orders/order.js';
import { orderEventId, type OrderEvent } from '../../orders/order-events.js';
import {
  type CommitEffects, type CommitEvent, type CommitResult, type CreateResult, type NewOrder, type OrderStore, type OrderStoreOptions, type OutboxEntry, type Reservation, type RestoreOptions, restoredEffects,
  UNNAMED_COMMIT_EVENT,
} from '../../orders/order-store.js';
import { offerTemplate, pickValues } from './offer-template.js';

interface OrderRedis extends Redis {
  hexfleetCommitOrder(...args: (string | number)[]): Promise<[number, number | string, number?]>;
  hexfleetCreateOrder(...args: (string | number | Buffer)[]): Promise<[number, number | string, number?, number?, number?]>;
  hexfleetRestoreOrder(...args: (string | number)[]): Promise<number>;
  hexfleetReleaseReservation(key: string, value: string): Promise<number>;
}

const SCAN_COUNT = 500;

/**
 * Assignments in Redis, next to the driver records (same connection, same
 * prefix), so a reservation can check the driver in the same atomic step.
 * Layout: see lua/commitOrder.lua. The order document is JSON; its version
 * and fence live beside it in the same hash.
 *
 * The store's clock (see OrderStore) is the Redis server's: a lease is the
 * reservation key's PX, an extension its PEXPIRE, retention the order
 * hash's PEXPIRE and a key binding's ttl its PX, and an expired key no
 * longer exists for any script or read. Every gateway thus sees a lease end
 * at the same moment; the caller's `now` reaches the script only to judge
 * the driver's freshness. (A failover hands the clock to the new primary:
 * expiries move by the skew between the two servers' clocks.)
 *
 * The outbox is the stream prefix.."outbox", appended by commitOrder.lua in
 * the script that commits (so a commit and its event are one step, and the
 * stream's order is commit order); a position is a stream entry id; trimming
 * is XDEL. Entries hold the commit's arguments rather than a finished event
 * (see the script's header), which `outbox` assembles as `get` would.
 */
export class RedisOrderStore implements OrderStore {
  readonly kind = 'redis' as const;
  private readonly redis: OrderRedis;

  constructor(
    redis: Redis,
    /** The versioned key prefix of the driver store, e.g. "hf:v1:". */
    private readonly p: string,
    private readonly options: OrderStoreOptions & {
      /** Durability barrier on `redis` (Sentinel: WAIT for replicas): commit, restore, release and bindKey resolve only after it. */
      replicaAck?: ReplicaAck;
    } = {},
  ) {
    this.redis = redis as OrderRedis;
    loadScripts(this.redis, ['commitOrder', 'createOrder', 'restoreOrder', 'releaseReservation']);
  }

  async get(orderId: string): Promise<OrderDoc | null> {
    return orderOf(await redisCall(() => this.redis.hmget(this.p + 'o:' + orderId, 'doc', 'v', 'f')));
  }

  async commit(doc: OrderDoc, expectedVersion: number, fx: CommitEffects, now: number): Promise<CommitResult> {
    const { version: _v, ...body } = doc;
    const event = fx.event ?? UNNAMED_COMMIT_EVENT;
    const reply = await redisCall(() =>
      this.redis.hexfleetCommitOrder(
        this.p, doc.orderId, expectedVersion, JSON.stringify(body), now, isOpen(doc.state) ? 1 : 0,
        fx.deadline ?? -1, fx.retainMs ?? 0,
        fx.reserve?.driverId ?? '', fx.reserve ? bucketOf(fx.reserve.driverId) : 0, fx.reserve?.leaseMs ?? 0, fx.reserve?.staleMs ?? 0,
        fx.release?.driverId ?? '', fx.release?.fence ?? 0,
        fx.extend?.driverId ?? '', fx.extend?.fence ?? 0, fx.extend?.leaseMs ?? 0,
        event.type, event.actor, event.reason ?? '', this.options.outbox === false ? 0 : 1, '', fx.reserve?.homeRegion ?? '',
      ),
    );
    await this.options.replicaAck?.confirm();
    if (reply[0] !== 1) return { ok: false, reason: reply[1] as 'conflict' | 'driver_unavailable' | 'driver_reserved' };
    const version = Number(reply[1]);
    const fence = Number(reply[2]);
    return fence >= 0 ? { ok: true, version, fence } : { ok: true, version };
  }

  /** createOrder.lua: the creation and its offer (or plain version 2) in one script, one round trip. */
  async create(order: NewOrder, now: number): Promise<CreateResult> {
    const { version: _v, ...body } = order.doc;
    const e1 = order.effects.event ?? UNNAMED_COMMIT_EVENT;
    const offer = 'offer' in order.then ? order.then.offer : undefined;
    let second: { open: boolean; deadline: number | null; retainMs: number; event: CommitEvent; template: Buffer; picks: Buffer };
    if (offer) {
      const t = offerTemplate(order.doc, now, offer.offerExpiresAt);
      second = {
        open: true, deadline: offer.offerExpiresAt, retainMs: 0, event: offer.event,
        template: pack([t.parts, t.slots]),
        picks: pack(offer.picks.map((pick) => [pick.driverId, bucketOf(pick.driverId), ...pickValues(pick)])),
      };
    } else {
      const { doc, effects } = (order.then as Extract<NewOrder['then'], { commit: unknown }>).commit;
      const { version: _v2, ...plain } = doc;
      second = {
        open: isOpen(doc.state), deadline: effects.deadline, retainMs: effects.retainMs ?? 0, event: effects.event ?? UNNAMED_COMMIT_EVENT,
        template: pack([[JSON.stringify(plain)], []]), picks: pack([['', 0]]),
      };
    }
    const reply = await redisCall(() =>
      this.redis.hexfleetCreateOrder(
        this.p, order.doc.orderId, now, this.options.outbox === false ? 0 : 1,
        JSON.stringify(body), order.effects.deadline ?? -1, e1.type, e1.actor, e1.reason ?? '',
        second.open ? 1 : 0, second.deadline ?? -1, second.retainMs, offer?.leaseMs ?? 0, offer?.staleMs ?? 0,
        second.event.type, second.event.actor, second.event.reason ?? '',
        second.template, second.picks, offer?.homeRegion ?? '',
      ),
    );
    await this.options.replicaAck?.confirm();
    if (reply[0] !== 1) return { ok: false, reason: 'conflict' };
    const version = Number(reply[1]);
    const fence = Number(reply[2]);
    const chosen = Number(reply[3]);
    return {
      ok: true, version, ...(fence >= 0 ? { fence } : {}),
      picked: offer && chosen > 0 ? chosen - 1 : -1, refused: offer ? Number(reply[4]) : 0,
    };
  }

  async due(now: number, limit: number): Promise<string[]> {
    return redisCall(() => this.redis.zrangebyscore(this.p + 'o:due', '-inf', now, 'LIMIT', 0, limit));
  }

  async reservationOf(driverId: string): Promise<Reservation | null> {
    const value = await redisCall(() => this.redis.get(this.p + 'res:' + driverId));
    return value === null ? null : parseReservation(driverId, value);
  }

  async bindKey(key: string, orderId: string, ttlMs: number): Promise<string> {
    const k = this.p + 'idem:' + key;
    const set = await redisCall(() => this.redis.set(k, orderId, 'PX', ttlMs, 'NX'));
    await this.options.replicaAck?.confirm();
    if (set === 'OK') return orderId;
    return (await redisCall(() => this.redis.get(k))) ?? orderId;
  }

  async reservations(): Promise<Reservation[]> {
    const out: Reservation[] = [];
    const prefix = this.p + 'res:';
    let cursor = '0';
    do {
      const [next, keys] = await redisCall(() => this.redis.scan(cursor, 'MATCH', prefix + '*', 'COUNT', SCAN_COUNT));
      cursor = next;
      if (keys.length === 0) continue;
      const values = await redisCall(() => this.redis.mget(...keys));
      keys.forEach((k, i) => {
        const v = values[i];
        if (v) out.push(parseReservation(k.slice(prefix.length), v));
      });
    } while (cursor !== '0');
    return out;
  }

  async openOrders(): Promise<string[]> {
    return redisCall(() => this.redis.smembers(this.p + 'o:open'));
  }

  async release(r: Reservation): Promise<boolean> {
    const n = await redisCall(() => this.redis.hexfleetReleaseReservation(this.p + 'res:' + r.driverId, `${r.orderId} ${r.fence}`));
    await this.options.replicaAck?.confirm();
    return n === 1;
  }

  async outbox(limit: number): Promise<OutboxEntry[]> {
    const entries = await redisCall(() => this.redis.xrange(this.p + 'outbox', '-', '+', 'COUNT', limit));
    return entries.map(([position, fields]) => ({ position, event: outboxEvent(position, fields) }));
  }

  async trimOutbox(positions: readonly string[]): Promise<number> {
    if (positions.length === 0) return 0;
    return redisCall(() => this.redis.xdel(this.p + 'outbox', ...positions));
  }

  async outboxDepth(): Promise<number> {
    return redisCall(() => this.redis.xlen(this.p + 'outbox'));
  }

  async restore(doc: OrderDoc, o: RestoreOptions = {}): Promise<boolean> {
    const fx = restoredEffects(doc, o);
    const { version, ...body } = doc;
    const wrote = await redisCall(() =>
      this.redis.hexfleetRestoreOrder(
        this.p, doc.orderId, version, JSON.stringify(body), fx.open ? 1 : 0, fx.deadline ?? -1, o.retainMs ?? 0,
        fx.holds?.driverId ?? '', fx.holds?.fence ?? 0,
      ),
    );
    await this.options.replicaAck?.confirm();
    return wrote === 1;
  }

  /** The connection belongs to the driver store, which closes it. */
  async close(): Promise<void> {}

}

/** An order hash's `doc`, `v` and `f` (HMGET in that order) as get() returns it; null when there is no order. */
export function orderOf([doc, v, f]: (string | null | undefined)[]): OrderDoc | null {
  if (doc === null || doc === undefined) return null;
  const parsed = JSON.parse(doc) as OrderDoc;
  parsed.version = Number(v);
  if (f !== null && f !== undefined && parsed.driverId !== undefined) parsed.fence = Number(f);
  return parsed;
}

function parseReservation(driverId: string, value: string): Reservation {
  const at = value.lastIndexOf(' ');
  return { driverId, orderId: value.slice(0, at), fence: Number(value.slice(at + 1)) };
}

/** The OrderEvent of an outbox entry (fields: see lua/commitOrder.lua); its doc is what get() returned after the commit. */
export function outboxEvent(position: string, fields: string[]): OrderEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  if (f.doc === undefined || f.v === undefined) throw new Error(`outbox entry ${position} is not an order event (no doc or version)`);
  const doc = JSON.parse(f.doc) as OrderDoc;
  const version = Number(f.v);
  doc.version = version;
  if (f.f && doc.driverId !== undefined) doc.fence = Number(f.f);
  const event: OrderEvent = {
    id: orderEventId(doc.orderId, version), orderId: doc.orderId, version, type: f.t ?? '', actor: f.a ?? '', at: Number(f.at), doc,
  };
  if (f.r) event.reason = f.r;
  return event;
}
