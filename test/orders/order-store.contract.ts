import { afterEach, describe, expect, it } from 'vitest';
import type { OrderDoc, OrderState } from '../../src/orders/order.js';
import { type CommitEffects, type NewOrder, type OrderStore, type Reservation, UNNAMED_COMMIT_EVENT } from '../../src/orders/order-store.js';
import { createByCommits } from '../../src/orders/create-by-commits.js';
import type { OfferPick } from '../../src/orders/offered-doc.js';
import type { OrderEvent } from '../../src/orders/order-events.js';
import type { DriverStatus, DriverStore, StoreTiming } from '../../src/geo/driver-store.js';
import { waitFor } from '../support/wait-for.js';

/** An empty order store next to its driver store; `cleanup` closes both and removes what they stored. */
export interface OrderStoreFixture {
  orders: OrderStore;
  drivers: DriverStore;
  /**
   * Moves the order store's own clock — the one its leases, retention and
   * key bindings run on (see OrderStore) — `ms` forward, as if that much time
   * had passed for the store and for nobody else.
   */
  advanceStoreClock: (ms: number) => Promise<void>;
  cleanup: () => Promise<void>;
  /**
   * How the outbox orders events of different orders: `commit` (default) in
   * commit order; `per-order` only each order's own events in version order
   * (Redis Cluster: one outbox per order shard, merged by time).
   */
  outboxOrder?: 'commit' | 'per-order';
}

export type MakeOrderStore = (timing: StoreTiming) => Promise<OrderStoreFixture>;

/**
 * The store with `takenAt` left out of the reservations it reads: when a
 * reservation was taken is an engine's detail for its reconciler (Redis
 * Cluster records it, see Reservation), not part of what the contract compares.
 */
function withoutTakenAt(orders: OrderStore): OrderStore {
  const strip = (r: Reservation | null): Reservation | null => {
    if (!r) return r;
    const { takenAt: _t, ...rest } = r;
    return rest;
  };
  return new Proxy(orders, {
    get(target, prop, receiver) {
      if (prop === 'reservationOf') return async (driverId: string) => strip(await target.reservationOf(driverId));
      if (prop === 'reservations') return async () => (await target.reservations()).map((r) => strip(r)!);
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Offline well above stale, so a driver can be fresh by `ts` and still out of the index after a sweep. */
export const ORDER_CONTRACT_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 60_000, retentionMs: 3_600_000 };
const STALE_MS = ORDER_CONTRACT_TIMING.staleMs;
/** Far longer than any case: such a lease never runs out while a case looks at it. */
const LONG_MS = 10 * 60_000;
/**
 * A lease a case lets run out. Cases never wait for it: they move the
 * clocks past it (`elapse`). It is long only so that it still holds across
 * the few store calls a case makes right after taking it, in real time,
 * even on a busy 2-core machine.
 */
const SHORT_MS = 1_500;
/** The one lease a case waits for, in real time: short, since nothing needs to hold it. */
const REAL_LEASE_MS = 100;
const BERLIN = { lat: 52.52, lng: 13.405 };

/**
 * How far the callers' clock is ahead of the real one in the current case:
 * time a case made pass (`elapse`) without waiting for it. Reset by `open`.
 */
let callerSkew = 0;
/** The callers' clock: every `now` a case passes, and the fix times of its drivers. */
const clock = (): number => Date.now() + callerSkew;

function orderDoc(orderId: string, state: OrderState, over: Partial<OrderDoc> = {}): OrderDoc {
  const now = clock();
  return {
    orderId, state,
    request: { orderId, pickup: BERLIN, radiusM: 3000, mode: 'immediate' },
    requestHash: `hash-${orderId}`,
    attempt: 0, tried: [], history: [], createdAt: now, updatedAt: now, version: 0,
    ...over,
  };
}

/** The order offered to `driverId` (what the saga commits with a reservation). */
function offeredTo(orderId: string, driverId: string, over: Partial<OrderDoc> = {}): OrderDoc {
  return orderDoc(orderId, 'offered', { driverId, attempt: 1, tried: [driverId], offerExpiresAt: clock() + LONG_MS, ...over });
}

const reserve = (driverId: string, leaseMs = LONG_MS): CommitEffects['reserve'] => ({ driverId, leaseMs, staleMs: STALE_MS });

const byDriver = (a: Reservation, b: Reservation): number => a.driverId.localeCompare(b.driverId);

/**
 * The OrderStore conformance suite (STYLE.md habit 8): the memory store and
 * the Redis store must pass the same cases. Each case opens its own empty
 * stores. Cases are tables where the input varies and the expectation is one
 * rule ("refused, and nothing changed").
 */
export function orderStoreContract(name: string, make: MakeOrderStore): void {
  describe(`OrderStore contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    async function open(): Promise<OrderStoreFixture> {
      callerSkew = 0;
      const fixture = await make(ORDER_CONTRACT_TIMING);
      cleanups.push(fixture.cleanup);
      return { ...fixture, orders: withoutTakenAt(fixture.orders) };
    }

    /** `ms` pass for everybody, the store and its callers, at once: a lease taken now is `ms` older. */
    async function elapse(f: OrderStoreFixture, ms: number): Promise<void> {
      callerSkew += ms;
      await f.advanceStoreClock(ms);
    }

    let seq = 0;
    /** Puts a driver into the driver store: available and fresh unless told otherwise. */
    async function putDriver(
      drivers: DriverStore,
      driverId: string,
      { status = 'available', ageMs = 0 }: { status?: DriverStatus | null; ageMs?: number } = {},
    ): Promise<void> {
      const ts = clock() - ageMs;
      const ping = status === null ? { seq: ++seq, ...BERLIN, ts } : { seq: ++seq, ...BERLIN, ts, status };
      await drivers.applyBatches([{ driverId, pings: [ping] }], clock());
    }

    /** Everything a commit can change, for "refused, and nothing changed". */
    async function snapshot(orders: OrderStore, orderIds: string[], driverIds: string[]) {
      return {
        docs: await Promise.all(orderIds.map((id) => orders.get(id))),
        held: await Promise.all(driverIds.map((id) => orders.reservationOf(id))),
        reservations: (await orders.reservations()).sort(byDriver),
        // Every deadline, due or not, in order.
        deadlines: await orders.due(clock() + 100 * LONG_MS, 1000),
        open: (await orders.openOrders()).sort(),
        outbox: await orders.outbox(1000),
      };
    }

    /** Commits, expecting success; returns the new version and fence. */
    async function commitOk(orders: OrderStore, doc: OrderDoc, expected: number, effects: CommitEffects): Promise<{ version: number; fence?: number }> {
      const r = await orders.commit(doc, expected, effects, clock());
      if (!r.ok) throw new Error(`commit of ${doc.orderId} at version ${expected} refused: ${r.reason}`);
      return r;
    }

    describe('commit is a compare-and-set', () => {
      it('writes a new order at version 1 and reads it back as written; an unknown order is null', async () => {
        const { orders } = await open();
        const doc = orderDoc('o-1', 'searching', { leaseUntil: clock() + LONG_MS, history: [{ at: 1, event: 'search_resumed', attempt: 0 }] });
        expect(await orders.commit(doc, 0, { deadline: null }, clock())).toEqual({ ok: true, version: 1 });
        expect(await orders.get('o-1')).toEqual({ ...doc, version: 1 });
        expect(await orders.get('o-2')).toBeNull();
        const next = { ...doc, state: 'failed' as const, failReason: 'no_driver' };
        expect(await orders.commit(next, 1, { deadline: null }, clock())).toEqual({ ok: true, version: 2 });
        expect(await orders.get('o-1')).toEqual({ ...next, version: 2 });
      });

      const conflicts: { name: string; existing: number; expected: number }[] = [
        { name: 'a new order committed as if it existed', existing: 0, expected: 1 },
        { name: 'an existing order committed as new', existing: 1, expected: 0 },
        { name: 'a writer one version behind', existing: 2, expected: 1 },
        { name: 'a writer ahead of the store', existing: 1, expected: 2 },
      ];
      it.each(conflicts)('$name → conflict, and neither the order nor any effect changes', async ({ existing, expected }) => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-free');
        await putDriver(drivers, 'd-held');
        await commitOk(orders, offeredTo('o-other', 'd-held'), 0, { reserve: reserve('d-held'), deadline: clock() + LONG_MS });
        const held = (await orders.reservationOf('d-held'))!;
        for (let v = 0; v < existing; v++) {
          await commitOk(orders, orderDoc('o-1', 'searching', { attempt: v }), v, { deadline: clock() + LONG_MS + v });
        }
        const before = await snapshot(orders, ['o-1', 'o-other'], ['d-free', 'd-held']);

        // Every kind of effect rides on the refused commit: none may apply.
        const r = await orders.commit(offeredTo('o-1', 'd-free', { attempt: 9 }), expected, {
          reserve: reserve('d-free'), deadline: clock() - 1, retainMs: 1,
        }, clock());
        expect(r).toEqual({ ok: false, reason: 'conflict' });
        const releaseOther = await orders.commit(orderDoc('o-1', 'cancelled'), expected, {
          release: { driverId: 'd-held', fence: held.fence }, extend: { driverId: 'd-held', fence: held.fence, leaseMs: 1 }, deadline: null,
        }, clock());
        expect(releaseOther).toEqual({ ok: false, reason: 'conflict' });
        expect(await snapshot(orders, ['o-1', 'o-other'], ['d-free', 'd-held'])).toEqual(before);
      });

      it('of writers racing from the same version exactly one wins, with its effects only', async () => {
        const { orders, drivers } = await open();
        const ids = Array.from({ length: 12 }, (_, i) => `d-${i}`);
        for (const id of ids) await putDriver(drivers, id);
        await commitOk(orders, orderDoc('o-1', 'searching'), 0, { deadline: null });
        const results = await Promise.all(ids.map((id) => orders.commit(offeredTo('o-1', id), 1, { reserve: reserve(id), deadline: clock() + LONG_MS }, clock())));
        const winners = ids.filter((_, i) => results[i]!.ok);
        expect(winners).toHaveLength(1);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'conflict')).toBe(true);
        const doc = (await orders.get('o-1'))!;
        expect(doc).toMatchObject({ version: 2, state: 'offered', driverId: winners[0] });
        expect(await orders.reservations()).toEqual([{ driverId: winners[0], orderId: 'o-1', fence: doc.fence }]);
      });
    });

    describe('reserve', () => {
      it('reserves an available, fresh, indexed, free driver and hands out a fencing token', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        await commitOk(orders, orderDoc('o-1', 'searching'), 0, { deadline: clock() + LONG_MS });
        const r = await commitOk(orders, offeredTo('o-1', 'd-1'), 1, { reserve: reserve('d-1'), deadline: clock() + LONG_MS });
        expect(r.version).toBe(2);
        expect(r.fence).toEqual(expect.any(Number));
        expect((await orders.get('o-1'))!.fence).toBe(r.fence);
        expect(await orders.reservationOf('d-1')).toEqual({ driverId: 'd-1', orderId: 'o-1', fence: r.fence });
        expect(await orders.reservationOf('d-2')).toBeNull();
        expect(await orders.reservations()).toEqual([{ driverId: 'd-1', orderId: 'o-1', fence: r.fence }]);
        // A commit without a reservation hands out no fence.
        expect((await orders.commit(orderDoc('o-2', 'searching'), 0, { deadline: null }, clock()))).toEqual({ ok: true, version: 1 });
      });

      type Setup = (f: OrderStoreFixture) => Promise<void>;
      const refusals: { name: string; setup: Setup; reason: 'driver_unavailable' | 'driver_reserved' }[] = [
        { name: 'a driver the store has never seen', setup: async () => {}, reason: 'driver_unavailable' },
        { name: 'a busy driver', setup: ({ drivers }) => putDriver(drivers, 'd-x', { status: 'busy' }), reason: 'driver_unavailable' },
        { name: 'an offline driver', setup: ({ drivers }) => putDriver(drivers, 'd-x', { status: 'offline' }), reason: 'driver_unavailable' },
        { name: 'a driver that never sent a status', setup: ({ drivers }) => putDriver(drivers, 'd-x', { status: null }), reason: 'driver_unavailable' },
        { name: 'a stale driver (silent past staleMs)', setup: ({ drivers }) => putDriver(drivers, 'd-x', { ageMs: STALE_MS + 5_000 }), reason: 'driver_unavailable' },
        {
          name: 'a driver out of the cell index (swept as offline)',
          setup: async ({ drivers }) => {
            await putDriver(drivers, 'd-x');
            // Seen from a sweep's clock past offlineMs (but within retention) the driver leaves the index,
            // while by the commit's clock its fix is fresh: only `indexed` refuses it.
            await drivers.sweep(clock() + ORDER_CONTRACT_TIMING.offlineMs + 10_000);
            expect(await drivers.get('d-x', clock())).toMatchObject({ status: 'available', stale: false, indexed: false });
          },
          reason: 'driver_unavailable',
        },
        {
          name: 'a driver reserved by another order',
          setup: async ({ orders, drivers }) => {
            await putDriver(drivers, 'd-x');
            await commitOk(orders, offeredTo('o-other', 'd-x'), 0, { reserve: reserve('d-x'), deadline: clock() + LONG_MS });
          },
          reason: 'driver_reserved',
        },
        {
          name: 'a driver this very order already holds',
          setup: async ({ orders, drivers }) => {
            await putDriver(drivers, 'd-x');
            await commitOk(orders, offeredTo('o-1', 'd-x'), 1, { reserve: reserve('d-x'), deadline: clock() + LONG_MS });
          },
          reason: 'driver_reserved',
        },
      ];
      it.each(refusals)('refuses $name with $reason, and changes nothing', async ({ setup, reason }) => {
        const f = await open();
        const { orders, drivers } = f;
        await commitOk(orders, orderDoc('o-1', 'searching'), 0, { deadline: clock() + LONG_MS });
        await putDriver(drivers, 'd-held');
        await commitOk(orders, offeredTo('o-held', 'd-held'), 0, { reserve: reserve('d-held'), deadline: clock() + LONG_MS });
        const held = (await orders.reservationOf('d-held'))!;
        await setup(f);
        const current = (await orders.get('o-1'))!;
        const before = await snapshot(orders, ['o-1', 'o-held', 'o-other'], ['d-x', 'd-held']);

        // The refused commit also carries a release and an extend that would apply on their own: all or nothing.
        const r = await orders.commit(offeredTo('o-1', 'd-x', { attempt: current.attempt + 1 }), current.version, {
          reserve: reserve('d-x'),
          release: { driverId: 'd-held', fence: held.fence },
          extend: { driverId: 'd-held', fence: held.fence, leaseMs: 1 },
          deadline: clock() - 1_000,
        }, clock());
        expect(r).toEqual({ ok: false, reason });
        expect(await snapshot(orders, ['o-1', 'o-held', 'o-other'], ['d-x', 'd-held'])).toEqual(before);
      });

      it('a new order refused its reservation does not exist afterwards', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-busy', { status: 'busy' });
        expect(await orders.commit(offeredTo('o-1', 'd-busy'), 0, { reserve: reserve('d-busy'), deadline: clock() }, clock()))
          .toEqual({ ok: false, reason: 'driver_unavailable' });
        expect(await orders.get('o-1')).toBeNull();
        expect(await orders.openOrders()).toEqual([]);
        expect(await orders.due(clock() + LONG_MS, 10)).toEqual([]);
      });

      it('of many orders racing for one driver exactly one gets it; the others are refused and not written', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        const ids = Array.from({ length: 25 }, (_, i) => `o-${i}`);
        const results = await Promise.all(ids.map((id) => orders.commit(offeredTo(id, 'd-1'), 0, { reserve: reserve('d-1'), deadline: clock() + LONG_MS }, clock())));
        const winners = ids.filter((_, i) => results[i]!.ok);
        expect(winners).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual(Array(24).fill({ ok: false, reason: 'driver_reserved' }));
        expect(await orders.openOrders()).toEqual(winners);
        expect((await orders.reservationOf('d-1'))!.orderId).toBe(winners[0]);
        for (const id of ids) if (id !== winners[0]) expect(await orders.get(id)).toBeNull();
      });

      it('fencing tokens only grow, across drivers, orders and re-reservations of one driver', async () => {
        const { orders, drivers } = await open();
        for (const id of ['d-1', 'd-2']) await putDriver(drivers, id);
        const fences: number[] = [];
        let one = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1'), deadline: null });
        fences.push(one.fence!);
        fences.push((await commitOk(orders, offeredTo('o-2', 'd-2'), 0, { reserve: reserve('d-2'), deadline: null })).fence!);
        for (let round = 0; round < 3; round++) {
          // o-1 releases d-1 and takes it again: the same driver and order get a fresh, larger fence.
          const released = await commitOk(orders, orderDoc('o-1', 'searching'), one.version, { release: { driverId: 'd-1', fence: one.fence! }, deadline: null });
          expect(await orders.reservationOf('d-1')).toBeNull();
          one = await commitOk(orders, offeredTo('o-1', 'd-1'), released.version, { reserve: reserve('d-1'), deadline: null });
          fences.push(one.fence!);
        }
        for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
      });
    });

    describe('release and extend act only with the matching order and fence', () => {
      it('a matching release frees the driver, and another order can reserve it', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        const { version, fence } = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1'), deadline: clock() + LONG_MS });
        await commitOk(orders, orderDoc('o-1', 'cancelled'), version, { release: { driverId: 'd-1', fence: fence! }, deadline: null });
        expect(await orders.reservationOf('d-1')).toBeNull();
        expect(await orders.reservations()).toEqual([]);
        const again = await commitOk(orders, offeredTo('o-2', 'd-1'), 0, { reserve: reserve('d-1'), deadline: null });
        expect(await orders.reservationOf('d-1')).toEqual({ driverId: 'd-1', orderId: 'o-2', fence: again.fence });
      });

      const mismatches: { name: string; order: 'o-1' | 'o-2'; fenceDelta: number }[] = [
        { name: 'an older fence of the same order', order: 'o-1', fenceDelta: -1 },
        { name: 'a newer fence than the one held', order: 'o-1', fenceDelta: 1 },
        { name: 'the right fence named by another order', order: 'o-2', fenceDelta: 0 },
      ];
      it.each(mismatches)('$name: the commit is written, the reservation is untouched; release() says false', async ({ order, fenceDelta }) => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        await commitOk(orders, orderDoc('o-2', 'searching'), 0, { deadline: null });
        const { version, fence } = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1'), deadline: null });
        const held = { driverId: 'd-1', orderId: 'o-1', fence: fence! };
        const wrong = fence! + fenceDelta;
        const v = order === 'o-1' ? version : 1;
        const r = await commitOk(orders, orderDoc(order, 'searching', { attempt: 7 }), v, {
          release: { driverId: 'd-1', fence: wrong },
          deadline: null,
        });
        expect(r.version).toBe(v + 1);
        expect((await orders.get(order))!.attempt).toBe(7);
        expect(await orders.reservationOf('d-1')).toEqual(held);
        expect(await orders.release({ driverId: 'd-1', orderId: order, fence: wrong })).toBe(false);
        expect(await orders.reservationOf('d-1')).toEqual(held);
        // The holder's own release works once, and only once.
        expect(await orders.release(held)).toBe(true);
        expect(await orders.release(held)).toBe(false);
        expect(await orders.reservationOf('d-1')).toBeNull();
      });

      it('release() of a driver nobody holds is false and creates nothing', async () => {
        const { orders } = await open();
        expect(await orders.release({ driverId: 'd-none', orderId: 'o-1', fence: 1 })).toBe(false);
        expect(await orders.reservations()).toEqual([]);
      });

      it('a late writer holding an old fence can neither release nor extend the newer reservation of its driver', async () => {
        const f = await open();
        const { orders, drivers } = f;
        await putDriver(drivers, 'd-1');
        // o-1's reservation lapses (its process stalled past the lease) …
        const old = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1', SHORT_MS), deadline: null });
        await elapse(f, SHORT_MS + 1);
        expect(await orders.reservationOf('d-1')).toBeNull();
        // … and o-2 takes the driver, briefly, so that an unwanted extend would show.
        const newer = await commitOk(orders, offeredTo('o-2', 'd-1'), 0, { reserve: reserve('d-1', 2 * SHORT_MS), deadline: null });
        expect(newer.fence!).toBeGreaterThan(old.fence!);
        const held = { driverId: 'd-1', orderId: 'o-2', fence: newer.fence! };

        // The stalled writer wakes up and acts on what it last knew.
        await commitOk(orders, orderDoc('o-1', 'cancelled'), old.version, { release: { driverId: 'd-1', fence: old.fence! }, deadline: null });
        expect(await orders.reservationOf('d-1')).toEqual(held);
        expect(await orders.release({ driverId: 'd-1', orderId: 'o-1', fence: old.fence! })).toBe(false);
        await commitOk(orders, orderDoc('o-1', 'searching'), old.version + 1, { extend: { driverId: 'd-1', fence: old.fence!, leaseMs: LONG_MS }, deadline: null });
        expect(await orders.reservationOf('d-1')).toEqual(held);
        // Not extended: o-2's own short lease still runs out.
        await elapse(f, 2 * SHORT_MS + 1);
        expect(await orders.reservationOf('d-1'), "o-2's lease, not extended by o-1's old fence").toBeNull();
      });

      it('a matching extend keeps the reservation past its lease; a lapsed lease frees the driver', async () => {
        const f = await open();
        const { orders, drivers } = f;
        for (const id of ['d-1', 'd-2']) await putDriver(drivers, id);
        const one = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1', SHORT_MS), deadline: null });
        const two = await commitOk(orders, offeredTo('o-2', 'd-2'), 0, { reserve: reserve('d-2', SHORT_MS), deadline: null });
        await commitOk(orders, orderDoc('o-1', 'accepted', { driverId: 'd-1' }), one.version, { extend: { driverId: 'd-1', fence: one.fence!, leaseMs: LONG_MS }, deadline: null });
        // d-2's lease (taken after d-1's) lapses: d-1's would have too, had it not been extended.
        await elapse(f, SHORT_MS + 1);
        expect(await orders.reservationOf('d-2')).toBeNull();
        expect(await orders.reservationOf('d-1')).toEqual({ driverId: 'd-1', orderId: 'o-1', fence: one.fence });
        expect(await orders.reservations()).toEqual([{ driverId: 'd-1', orderId: 'o-1', fence: one.fence }]);
        // The lapsed reservation is gone for good: o-3 can reserve d-2; o-2's old fence cannot release it.
        const three = await commitOk(orders, offeredTo('o-3', 'd-2'), 0, { reserve: reserve('d-2'), deadline: null });
        expect(await orders.release({ driverId: 'd-2', orderId: 'o-2', fence: two.fence! })).toBe(false);
        expect(await orders.reservationOf('d-2')).toEqual({ driverId: 'd-2', orderId: 'o-3', fence: three.fence });
      });
    });

    describe("leases run on the store's clock, never on a caller's `now`", () => {
      /** An hour: far more than any lease here, as a gateway whose clock is badly off. */
      const SKEW_MS = 3_600_000;

      it('a caller whose clock runs ahead sees a live reservation and a retained order as they are; the holder keeps its driver', async () => {
        const f = await open();
        const { orders, drivers } = f;
        await putDriver(drivers, 'd-1');
        const held = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1', SHORT_MS), deadline: null });
        await commitOk(orders, orderDoc('o-term', 'failed'), 0, { deadline: null, retainMs: SHORT_MS });
        const ahead = clock() + SKEW_MS;
        // Its reservation asks nothing of the driver's age (staleMs beyond the skew): only the lease can refuse it.
        const grab = await orders.commit(offeredTo('o-2', 'd-1'), 0, { reserve: { driverId: 'd-1', leaseMs: LONG_MS, staleMs: 2 * SKEW_MS }, deadline: null }, ahead);
        expect(grab).toEqual({ ok: false, reason: 'driver_reserved' });
        expect(await orders.reservationOf('d-1')).toEqual({ driverId: 'd-1', orderId: 'o-1', fence: held.fence });
        // The retained order is still there, at version 1.
        expect(await orders.commit(orderDoc('o-term', 'searching'), 1, { deadline: null }, ahead)).toEqual({ ok: true, version: 2 });
        // The holder, from a clock as far ahead, still finds its reservation: its extend holds the driver past the lease.
        const accept = await orders.commit(orderDoc('o-1', 'accepted', { driverId: 'd-1' }), held.version, {
          extend: { driverId: 'd-1', fence: held.fence!, leaseMs: 0 }, deadline: null,
        }, ahead);
        expect(accept).toEqual({ ok: true, version: held.version + 1 });
        await elapse(f, SHORT_MS + 1);
        expect(await orders.reservationOf('d-1')).toEqual({ driverId: 'd-1', orderId: 'o-1', fence: held.fence });
      });

      it('a caller whose clock runs behind cannot keep a reservation whose lease ended by the store\'s clock', async () => {
        const f = await open();
        const { orders, drivers } = f;
        await putDriver(drivers, 'd-1');
        const old = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1', SHORT_MS), deadline: null });
        // Only the store's clock moves: for every caller, no time has passed.
        await f.advanceStoreClock(SHORT_MS + 1);
        expect(await orders.reservationOf('d-1')).toBeNull();
        expect(await orders.reservations()).toEqual([]);
        const behind = clock() - SKEW_MS;
        // The old holder, from a clock an hour behind, extends nothing (its commit is written, without the effect) …
        const late = await orders.commit(orderDoc('o-1', 'accepted', { driverId: 'd-1' }), old.version, {
          extend: { driverId: 'd-1', fence: old.fence!, leaseMs: 0 }, deadline: null,
        }, behind);
        expect(late).toEqual({ ok: true, version: old.version + 1 });
        expect(await orders.reservationOf('d-1')).toBeNull();
        expect(await orders.release({ driverId: 'd-1', orderId: 'o-1', fence: old.fence! })).toBe(false);
        // … and another order takes the driver at once, from a clock as far behind.
        const next = await orders.commit(offeredTo('o-2', 'd-1'), 0, { reserve: reserve('d-1'), deadline: null }, behind);
        expect(next).toMatchObject({ ok: true, version: 1 });
        expect(await orders.reservationOf('d-1')).toMatchObject({ orderId: 'o-2' });
      });

      it('a lease runs out on the store\'s clock by itself, in real time, with nothing moved', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1', REAL_LEASE_MS), deadline: null });
        await waitFor(async () => (await orders.reservationOf('d-1')) === null, { what: `a ${REAL_LEASE_MS} ms lease to run out in real time` });
        await commitOk(orders, offeredTo('o-2', 'd-1'), 0, { reserve: reserve('d-1'), deadline: null });
      });
    });

    describe('due', () => {
      it('lists orders whose deadline has passed, oldest first, at most `limit`; null clears a deadline', async () => {
        const { orders } = await open();
        const now = clock();
        const deadlines: [string, number | null][] = [
          ['o-a', now - 500], ['o-b', now - 100], ['o-c', now - 300], ['o-d', now + LONG_MS], ['o-e', null], ['o-f', now],
        ];
        for (const [id, deadline] of deadlines) await commitOk(orders, orderDoc(id, 'searching'), 0, { deadline });
        expect(await orders.due(now, 10)).toEqual(['o-a', 'o-c', 'o-b', 'o-f']);
        expect(await orders.due(now, 2)).toEqual(['o-a', 'o-c']);
        expect(await orders.due(now - 400, 10)).toEqual(['o-a']);
        expect(await orders.due(now - 1_000, 10)).toEqual([]);
        expect(await orders.due(now + LONG_MS, 10)).toEqual(['o-a', 'o-c', 'o-b', 'o-f', 'o-d']);

        // A commit moves or clears the deadline.
        await commitOk(orders, orderDoc('o-a', 'offered'), 1, { deadline: null });
        await commitOk(orders, orderDoc('o-d', 'searching'), 1, { deadline: now - 1_000 });
        await commitOk(orders, orderDoc('o-e', 'searching'), 1, { deadline: now - 200 });
        expect(await orders.due(now, 10)).toEqual(['o-d', 'o-c', 'o-e', 'o-b', 'o-f']);
        // A terminal order is never due again once its deadline is cleared.
        await commitOk(orders, orderDoc('o-c', 'failed'), 1, { deadline: null, retainMs: LONG_MS });
        expect(await orders.due(now, 10)).toEqual(['o-d', 'o-e', 'o-b', 'o-f']);
      });
    });

    describe('bindKey', () => {
      it('binds a key to the first order only, until its ttl passes', async () => {
        const f = await open();
        const { orders } = f;
        expect(await orders.bindKey('k-1', 'o-1', SHORT_MS)).toBe('o-1');
        expect(await orders.bindKey('k-1', 'o-2', LONG_MS)).toBe('o-1');
        expect(await orders.bindKey('k-1', 'o-1', LONG_MS)).toBe('o-1');
        expect(await orders.bindKey('k-2', 'o-2', LONG_MS)).toBe('o-2');
        expect(await orders.bindKey('k-3', 'o-1', LONG_MS)).toBe('o-1');
        // k-1's short ttl runs out (a second binding did not renew it); then it binds afresh.
        await elapse(f, SHORT_MS + 1);
        expect(await orders.bindKey('k-1', 'o-3', LONG_MS)).toBe('o-3');
        expect(await orders.bindKey('k-1', 'o-1', LONG_MS)).toBe('o-3');
        expect(await orders.bindKey('k-2', 'o-3', LONG_MS)).toBe('o-2');
      });
    });

    describe('openOrders and reservations', () => {
      it('openOrders lists searching, offered and accepted orders; terminal ones leave, reopened ones return', async () => {
        const { orders } = await open();
        const states: OrderState[] = ['searching', 'offered', 'accepted', 'completed', 'failed', 'cancelled'];
        for (const state of states) await commitOk(orders, orderDoc(`o-${state}`, state), 0, { deadline: null });
        expect((await orders.openOrders()).sort()).toEqual(['o-accepted', 'o-offered', 'o-searching']);
        await commitOk(orders, orderDoc('o-offered', 'cancelled'), 1, { deadline: null });
        await commitOk(orders, orderDoc('o-failed', 'searching'), 1, { deadline: null });
        expect((await orders.openOrders()).sort()).toEqual(['o-accepted', 'o-failed', 'o-searching']);
      });

      it('reservations lists every reservation held with its order and fence', async () => {
        const f = await open();
        const { orders, drivers } = f;
        const ids = ['d-1', 'd-2', 'd-3', 'd-4'];
        for (const id of ids) await putDriver(drivers, id);
        const fences = new Map<string, { fence: number; version: number }>();
        for (const [i, id] of ids.entries()) {
          const r = await commitOk(orders, offeredTo(`o-${i}`, id), 0, { reserve: reserve(id, id === 'd-4' ? SHORT_MS : LONG_MS), deadline: null });
          fences.set(id, { fence: r.fence!, version: r.version });
        }
        await commitOk(orders, orderDoc('o-1', 'cancelled'), fences.get('d-2')!.version, { release: { driverId: 'd-2', fence: fences.get('d-2')!.fence }, deadline: null });
        await elapse(f, SHORT_MS + 1);
        expect(await orders.reservationOf('d-4')).toBeNull();
        expect((await orders.reservations()).sort(byDriver)).toEqual([
          { driverId: 'd-1', orderId: 'o-0', fence: fences.get('d-1')!.fence },
          { driverId: 'd-3', orderId: 'o-2', fence: fences.get('d-3')!.fence },
        ]);
      });
    });

    describe('retention of terminal orders', () => {
      it('a terminal order stays readable for retainMs, then is gone and its id is new again; open orders and retainMs 0 stay', async () => {
        const f = await open();
        const { orders } = f;
        await commitOk(orders, orderDoc('o-forever', 'cancelled'), 0, { deadline: null, retainMs: 0 });
        await commitOk(orders, orderDoc('o-open', 'offered'), 0, { deadline: null, retainMs: SHORT_MS });
        await commitOk(orders, orderDoc('o-term', 'failed'), 0, { deadline: null, retainMs: SHORT_MS });
        expect((await orders.get('o-term'))!.state).toBe('failed');
        await elapse(f, SHORT_MS + 1);
        expect(await orders.get('o-term'), 'the terminal order after retainMs').toBeNull();
        expect((await orders.get('o-open'))!.state).toBe('offered');
        expect((await orders.get('o-forever'))!.state).toBe('cancelled');
        // Gone means gone: version 0 writes it as a new order, any other version conflicts.
        expect(await orders.commit(orderDoc('o-term', 'searching'), 1, { deadline: null }, clock())).toEqual({ ok: false, reason: 'conflict' });
        expect(await orders.commit(orderDoc('o-term', 'searching'), 0, { deadline: null }, clock())).toEqual({ ok: true, version: 1 });
      });

      it('reopening a retained terminal order keeps it for good', async () => {
        const f = await open();
        const { orders } = f;
        await commitOk(orders, orderDoc('o-reopened', 'failed'), 0, { deadline: null, retainMs: SHORT_MS });
        await commitOk(orders, orderDoc('o-reopened', 'searching'), 1, { deadline: null });
        // Committed after the reopening with the same retention: once it is gone, o-reopened would have been too.
        await commitOk(orders, orderDoc('o-witness', 'failed'), 0, { deadline: null, retainMs: SHORT_MS });
        await elapse(f, SHORT_MS + 1);
        expect(await orders.get('o-witness'), 'the witness order after retainMs').toBeNull();
        expect(await orders.get('o-reopened')).toMatchObject({ state: 'searching', version: 2 });
        expect(await orders.openOrders()).toEqual(['o-reopened']);
      });
    });

    describe('outbox: every commit records its event in the same step', () => {
      /** Every event in the outbox, oldest first. */
      const events = async (orders: OrderStore) => (await orders.outbox(1000)).map((e) => e.event);

      it('records one event per commit, for the new version, with the caller\'s type, actor and reason, its `now`, and the order as get() reads it', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        const steps: { doc: OrderDoc; effects: CommitEffects }[] = [
          { doc: orderDoc('o-1', 'searching'), effects: { deadline: clock() + LONG_MS, event: { type: 'order.created', actor: 'service' } } },
          { doc: offeredTo('o-1', 'd-1'), effects: { reserve: reserve('d-1'), deadline: clock() + LONG_MS, event: { type: 'assignment.offered', actor: 'deadline' } } },
          { doc: orderDoc('o-1', 'accepted', { driverId: 'd-1', attempt: 1 }), effects: { deadline: null, event: { type: 'assignment.accepted', actor: 'driver:d-1' } } },
          { doc: orderDoc('o-1', 'failed', { failReason: 'x' }), effects: { deadline: null, retainMs: LONG_MS, event: { type: 'assignment.failed', actor: 'reconciler', reason: 'no_driver' } } },
          // A commit that names no event still records one: the log has every version.
          { doc: orderDoc('o-1', 'searching'), effects: { deadline: null } },
        ];
        const expected: OrderEvent[] = [];
        for (const [i, { doc, effects }] of steps.entries()) {
          const now = clock() + i;
          const r = await orders.commit(doc, i, effects, now);
          expect(r).toMatchObject({ ok: true, version: i + 1 });
          const stored = (await orders.get('o-1'))!;
          const { type, actor, reason } = effects.event ?? UNNAMED_COMMIT_EVENT;
          expected.push({ id: `o-1:${i + 1}`, orderId: 'o-1', version: i + 1, type, actor, ...(reason ? { reason } : {}), at: now, doc: stored });
        }
        expect(UNNAMED_COMMIT_EVENT).toEqual({ type: 'order.updated', actor: 'unknown' });
        expect(await events(orders)).toEqual(expected);
        // The offer's event carries the fence the store handed out.
        expect(expected[1]!.doc.fence).toBe((await orders.reservationOf('d-1'))!.fence);
        expect(await orders.outboxDepth()).toBe(steps.length);
      });

      it('lists events oldest first across orders, in commit order, at most `limit`; reading trims nothing', async () => {
        const fixture = await open();
        const { orders } = fixture;
        const order = ['o-a', 'o-b', 'o-a', 'o-c', 'o-b', 'o-a'];
        const versions = new Map<string, number>();
        for (const id of order) {
          const v = versions.get(id) ?? 0;
          await commitOk(orders, orderDoc(id, 'searching', { attempt: v }), v, { deadline: null });
          versions.set(id, v + 1);
        }
        const all = await orders.outbox(100);
        const committed = ['o-a:1', 'o-b:1', 'o-a:2', 'o-c:1', 'o-b:2', 'o-a:3'];
        if (fixture.outboxOrder === 'per-order') {
          for (const id of ['o-a', 'o-b', 'o-c']) {
            expect(all.map((e) => e.event.id).filter((e) => e.startsWith(id + ':'))).toEqual(committed.filter((e) => e.startsWith(id + ':')));
          }
          expect(all).toHaveLength(committed.length);
        } else {
          expect(all.map((e) => e.event.id)).toEqual(committed);
        }
        expect(new Set(all.map((e) => e.position)).size).toBe(order.length);
        expect(await orders.outbox(2)).toEqual(all.slice(0, 2));
        expect(await orders.outbox(100)).toEqual(all);
        expect(await orders.outboxDepth()).toBe(order.length);
      });

      it('trimOutbox removes exactly the given events and says how many were there; trimming again removes nothing', async () => {
        const { orders } = await open();
        for (let v = 0; v < 5; v++) await commitOk(orders, orderDoc('o-1', 'searching', { attempt: v }), v, { deadline: null });
        const all = await orders.outbox(100);
        expect(await orders.trimOutbox([all[0]!.position, all[2]!.position])).toBe(2);
        expect(await orders.outbox(100)).toEqual([all[1], all[3], all[4]]);
        expect(await orders.outboxDepth()).toBe(3);
        // Idempotent, also when the call mixes trimmed and pending positions (two relays racing).
        expect(await orders.trimOutbox([all[0]!.position, all[2]!.position])).toBe(0);
        expect(await orders.trimOutbox([all[2]!.position, all[3]!.position])).toBe(1);
        expect(await orders.trimOutbox([])).toBe(0);
        expect(await orders.outbox(100)).toEqual([all[1], all[4]]);
        // A commit after a trim is listed after what is left.
        await commitOk(orders, orderDoc('o-2', 'searching'), 0, { deadline: null });
        expect((await orders.outbox(100)).map((e) => e.event.id)).toEqual(['o-1:2', 'o-1:5', 'o-2:1']);
        expect(await orders.trimOutbox((await orders.outbox(100)).map((e) => e.position))).toBe(3);
        expect(await orders.outbox(100)).toEqual([]);
        expect(await orders.outboxDepth()).toBe(0);
      });

      it('of writers racing from the same version, only the winner\'s event is recorded', async () => {
        const { orders, drivers } = await open();
        const ids = Array.from({ length: 8 }, (_, i) => `d-${i}`);
        for (const id of ids) await putDriver(drivers, id);
        await commitOk(orders, orderDoc('o-1', 'searching'), 0, { deadline: null });
        await Promise.all(ids.map((id) => orders.commit(offeredTo('o-1', id), 1, {
          reserve: reserve(id), deadline: null, event: { type: 'assignment.offered', actor: `driver:${id}` },
        }, clock())));
        const doc = (await orders.get('o-1'))!;
        const recorded = await events(orders);
        expect(recorded.map((e) => e.id)).toEqual(['o-1:1', 'o-1:2']);
        expect(recorded[1]).toMatchObject({ actor: `driver:${doc.driverId}`, doc });
      });
    });

    describe('create: the creation and its version 2 in one step, as the commits would leave them', () => {
      const pick = (driverId: string, i = 0): OfferPick => ({ driverId, distanceM: 100 + i, etaS: 20 + i, etaSource: i % 2 ? 'fallback' : 'provider' });
      const created = { type: 'order.created', actor: 'service' };
      const offered = { type: 'assignment.offered', actor: 'service' };
      /** A new order offered to `picks` in turn (the saga's fast path). */
      function newOrder(orderId: string, picks: OfferPick[], now: number): NewOrder {
        return {
          doc: orderDoc(orderId, 'searching', { leaseUntil: now + LONG_MS }), effects: { deadline: now + LONG_MS, event: created },
          then: { offer: { picks, offerExpiresAt: now + 2 * LONG_MS, leaseMs: LONG_MS, staleMs: STALE_MS, event: offered } },
        };
      }
      /** Drivers that a reservation refuses, each for its own reason, and two free ones. */
      async function fleet(f: OrderStoreFixture): Promise<void> {
        for (const id of ['d-free', 'd-free-2', 'd-held']) await putDriver(f.drivers, id);
        await putDriver(f.drivers, 'd-busy', { status: 'busy' });
        await putDriver(f.drivers, 'd-stale', { ageMs: STALE_MS + LONG_MS });
        await commitOk(f.orders, offeredTo('o-other', 'd-held'), 0, { reserve: reserve('d-held'), deadline: clock() + LONG_MS });
      }
      const ALL = ['d-free', 'd-free-2', 'd-held', 'd-busy', 'd-stale', 'd-none'];
      /** What a store holds after the case, outbox positions left out (each engine has its own). */
      async function state(orders: OrderStore) {
        const s = await snapshot(orders, ['o-1'], ALL);
        // o-other was written by the fixture at its own time: its events and deadline differ between two stores by their times only.
        return { ...s, deadlines: s.deadlines.filter((id) => id === 'o-1'), outbox: s.outbox.map((e) => e.event).filter((e) => e.orderId === 'o-1') };
      }

      const cases: { name: string; picks: string[]; picked: number; refused: number }[] = [
        { name: 'the first pick free: offered to it', picks: ['d-free', 'd-free-2'], picked: 0, refused: 0 },
        { name: 'reserved, busy, stale and unknown picks refused in turn: the first free one after them', picks: ['d-held', 'd-busy', 'd-stale', 'd-none', 'd-free-2', 'd-free'], picked: 4, refused: 4 },
        { name: 'every pick refused: the order is created searching, at version 1, holding nobody', picks: ['d-held', 'd-busy', 'd-stale'], picked: -1, refused: 3 },
        { name: 'no pick at all: created, nothing else', picks: [], picked: -1, refused: 0 },
      ];
      it.each(cases)('$name', async ({ picks, picked, refused }) => {
        const now = clock();
        const order = newOrder('o-1', picks.map(pick), now);
        const one = await open();
        await fleet(one);
        const r = await one.orders.create(order, now);
        expect(r).toMatchObject({ ok: true, version: picked >= 0 ? 2 : 1, picked, refused });
        const after = await state(one.orders);
        // The same order by commits, in a store of its own: what create leaves must be what they leave.
        const two = await open();
        await fleet(two);
        expect(await createByCommits(two.orders, order, now)).toEqual(r);
        expect(after).toEqual(await state(two.orders));
        const doc = (await one.orders.get('o-1'))!;
        expect(after.outbox.filter((e) => e.orderId === 'o-1').map((e) => [e.version, e.type])).toEqual(
          picked >= 0 ? [[1, 'order.created'], [2, 'assignment.offered']] : [[1, 'order.created']],
        );
        if (picked >= 0) {
          expect(doc).toMatchObject({ ...pick(picks[picked]!, picked), state: 'offered', attempt: 1, tried: [picks[picked]], fence: r.ok ? r.fence : -1 });
          expect(await one.orders.reservationOf(picks[picked]!)).toEqual({ driverId: picks[picked], orderId: 'o-1', fence: doc.fence });
        } else {
          expect(doc).toEqual({ ...order.doc, version: 1 });
        }
      });

      it('a plain version 2 (no driver: failed) is written as commit(doc, 1) writes it: terminal, no deadline, its event', async () => {
        const now = clock();
        const doc = orderDoc('o-1', 'searching', { leaseUntil: now + LONG_MS });
        const failed = orderDoc('o-1', 'failed', { failReason: 'no_driver', history: [{ at: now, event: 'failed', attempt: 0, reason: 'no_driver' }] });
        const order: NewOrder = {
          doc, effects: { deadline: now + LONG_MS, event: created },
          then: { commit: { doc: failed, effects: { deadline: null, retainMs: LONG_MS, event: { type: 'assignment.failed', actor: 'service', reason: 'no_driver' } } } },
        };
        const one = await open();
        expect(await one.orders.create(order, now)).toEqual({ ok: true, version: 2, picked: -1, refused: 0 });
        const two = await open();
        expect(await createByCommits(two.orders, order, now)).toEqual({ ok: true, version: 2, picked: -1, refused: 0 });
        expect(await state(one.orders)).toEqual(await state(two.orders));
        expect(await one.orders.get('o-1')).toEqual({ ...failed, version: 2 });
        expect(await one.orders.openOrders()).toEqual([]);
        expect((await one.orders.outbox(10)).map((e) => [e.event.version, e.event.type, e.event.reason])).toEqual([[1, 'order.created', undefined], [2, 'assignment.failed', 'no_driver']]);
      });

      it('an order that exists → conflict, and nothing changes', async () => {
        const f = await open();
        await fleet(f);
        await commitOk(f.orders, orderDoc('o-1', 'failed'), 0, { deadline: null });
        const before = await state(f.orders);
        expect(await f.orders.create(newOrder('o-1', [pick('d-free')], clock()), clock())).toEqual({ ok: false, reason: 'conflict' });
        expect(await state(f.orders)).toEqual(before);
      });

      it('creates of one order racing: exactly one writes, and one driver is reserved', async () => {
        const f = await open();
        await fleet(f);
        const now = clock();
        const results = await Promise.all(['d-free', 'd-free-2'].map((id) => f.orders.create(newOrder('o-1', [pick(id)], now), now)));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: 'conflict' }]);
        const held = (await f.orders.reservations()).filter((r) => r.orderId === 'o-1');
        expect(held).toHaveLength(1);
        expect((await f.orders.get('o-1'))!.driverId).toBe(held[0]!.driverId);
      });
    });

    describe('restore', () => {
      /** An order as the log carries it: a version, and a driver and fence while one holds it. */
      function logged(orderId: string, state: OrderState, version: number, over: Partial<OrderDoc> = {}): OrderDoc {
        return { ...orderDoc(orderId, state, over), version };
      }

      it('writes an absent order as of its version, once: the same or an older version changes nothing; no outbox event', async () => {
        const { orders } = await open();
        const doc = logged('o-1', 'searching', 4, { attempt: 2, tried: ['d-a', 'd-b'], leaseUntil: clock() + LONG_MS, history: [{ at: 1, event: 'search_resumed', attempt: 2 }] });
        expect(await orders.restore(doc)).toBe(true);
        expect(await orders.get('o-1')).toEqual(doc);
        const before = await snapshot(orders, ['o-1'], []);
        expect(await orders.restore(doc)).toBe(false);
        expect(await orders.restore({ ...logged('o-1', 'failed', 3), failReason: 'older' })).toBe(false);
        expect(await snapshot(orders, ['o-1'], [])).toEqual(before);
        expect(await orders.outboxDepth()).toBe(0);
        // A newer version replaces it; commits go on from the restored version, and record their events.
        expect(await orders.restore(logged('o-1', 'searching', 6, { attempt: 3 }))).toBe(true);
        expect(await orders.commit(orderDoc('o-1', 'searching'), 4, { deadline: null }, clock())).toEqual({ ok: false, reason: 'conflict' });
        expect(await orders.commit(orderDoc('o-1', 'cancelled'), 6, { deadline: null }, clock())).toEqual({ ok: true, version: 7 });
        expect((await orders.outbox(10)).map((e) => e.event.id)).toEqual(['o-1:7']);
      });

      it('a version that is not a positive integer is refused', async () => {
        const { orders } = await open();
        for (const version of [0, -1, 1.5, Number.NaN]) await expect(orders.restore(logged('o-1', 'searching', version))).rejects.toThrow(/version/);
        expect(await orders.get('o-1')).toBeNull();
      });

      const derived: { name: string; doc: () => OrderDoc; due: (d: OrderDoc) => number | null; open: boolean; holds: boolean }[] = [
        { name: 'searching: due at its lease, open', doc: () => logged('o-1', 'searching', 2, { leaseUntil: clock() - 10 }), due: (d) => d.leaseUntil!, open: true, holds: false },
        { name: 'offered: holds its driver, due at the offer deadline', doc: () => logged('o-1', 'offered', 3, { driverId: 'd-1', fence: 40, attempt: 1, offerExpiresAt: clock() - 20 }), due: (d) => d.offerExpiresAt!, open: true, holds: true },
        { name: 'accepted: holds its driver, never due', doc: () => logged('o-1', 'accepted', 4, { driverId: 'd-1', fence: 40, attempt: 1 }), due: () => null, open: true, holds: true },
        { name: 'completed: holds nothing, closed, never due', doc: () => logged('o-1', 'completed', 5, { driverId: 'd-1', fence: 40, attempt: 1 }), due: () => null, open: false, holds: false },
        { name: 'cancelled: holds nothing, closed, never due', doc: () => logged('o-1', 'cancelled', 2, { offerExpiresAt: clock() - 5 }), due: () => null, open: false, holds: false },
      ];
      it.each(derived)('$name', async ({ doc, due, open: isOpenOrder, holds }) => {
        const f = await open();
        const { orders } = f;
        const d = doc();
        expect(await orders.restore(d)).toBe(true);
        expect(await orders.get('o-1')).toEqual(d);
        const deadline = due(d);
        expect(await orders.due(clock() + 100 * LONG_MS, 10)).toEqual(deadline === null ? [] : ['o-1']);
        if (deadline !== null) expect(await orders.due(deadline - 1, 10)).toEqual([]);
        expect(await orders.openOrders()).toEqual(isOpenOrder ? ['o-1'] : []);
        const held = holds ? [{ driverId: 'd-1', orderId: 'o-1', fence: 40 }] : [];
        expect(await orders.reservations()).toEqual(held);
        // The reservation has no lease: it is held until released, with its fence.
        await elapse(f, LONG_MS);
        expect(await orders.reservations()).toEqual(held);
        if (holds) expect(await orders.release(held[0]!)).toBe(true);
        expect(await orders.outboxDepth()).toBe(0);
      });

      it('fences handed out after a restore are above the restored one', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-2');
        await orders.restore(logged('o-1', 'accepted', 3, { driverId: 'd-1', fence: 500, attempt: 1 }));
        const r = await commitOk(orders, offeredTo('o-2', 'd-2'), 0, { reserve: reserve('d-2'), deadline: null });
        expect(r.fence!).toBeGreaterThan(500);
      });

      it('a restored offer is expired and released by the fenced commit the deadline step makes', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        const d = logged('o-1', 'offered', 3, { driverId: 'd-1', fence: 9, attempt: 1, offerExpiresAt: clock() - 1 });
        await orders.restore(d);
        expect(await orders.due(clock(), 10)).toEqual(['o-1']);
        await commitOk(orders, orderDoc('o-1', 'searching', { attempt: 1 }), 3, { release: { driverId: 'd-1', fence: 9 }, deadline: null });
        expect(await orders.reservationOf('d-1')).toBeNull();
        await commitOk(orders, offeredTo('o-2', 'd-1'), 0, { reserve: reserve('d-1'), deadline: null });
      });

      it('a newer version releases the reservation the stored version held, and keeps one it still holds', async () => {
        const { orders, drivers } = await open();
        await putDriver(drivers, 'd-1');
        // Committed live: offered to d-1 with a lease …
        const live = await commitOk(orders, offeredTo('o-1', 'd-1'), 0, { reserve: reserve('d-1', SHORT_MS), deadline: null });
        // … the log has it accepted (same grant: held for good now, no lease) …
        await orders.restore(logged('o-1', 'accepted', live.version + 1, { driverId: 'd-1', fence: live.fence!, attempt: 1 }));
        expect(await orders.reservationOf('d-1')).toEqual({ driverId: 'd-1', orderId: 'o-1', fence: live.fence });
        // … then cancelled: the driver is free.
        await orders.restore(logged('o-1', 'cancelled', live.version + 2, { driverId: 'd-1', fence: live.fence!, attempt: 1 }));
        expect(await orders.reservations()).toEqual([]);
        // And a restored offer that the log then shows searching again frees its driver too.
        await orders.restore(logged('o-2', 'offered', 2, { driverId: 'd-2', fence: 70, attempt: 1 }));
        await orders.restore(logged('o-2', 'searching', 3, { attempt: 1, tried: ['d-2'] }));
        expect(await orders.reservations()).toEqual([]);
      });

      const rivals: { name: string; first: 'a' | 'b' }[] = [
        { name: 'the newer grant restored first', first: 'a' },
        { name: 'the older grant restored first', first: 'b' },
      ];
      it.each(rivals)('two orders naming one driver: the higher fence holds it, whatever the restore order ($name)', async ({ first }) => {
        const { orders } = await open();
        const a = logged('o-a', 'offered', 2, { driverId: 'd-1', fence: 12, attempt: 1 });
        const b = logged('o-b', 'offered', 2, { driverId: 'd-1', fence: 7, attempt: 1 });
        for (const d of first === 'a' ? [a, b] : [b, a]) expect(await orders.restore(d)).toBe(true);
        expect(await orders.reservations()).toEqual([{ driverId: 'd-1', orderId: 'o-a', fence: 12 }]);
        expect((await orders.openOrders()).sort()).toEqual(['o-a', 'o-b']);
        // The loser's fenced release cannot touch the winner's grant.
        expect(await orders.release({ driverId: 'd-1', orderId: 'o-b', fence: 7 })).toBe(false);
      });

      it('a terminal order is kept retainMs from the restore, by the store\'s clock; without it, for good', async () => {
        const f = await open();
        const { orders } = f;
        await orders.restore(logged('o-kept', 'completed', 5), { retainMs: SHORT_MS });
        await orders.restore(logged('o-forever', 'failed', 2, { failReason: 'no_driver' }));
        await orders.restore(logged('o-open', 'searching', 2), { retainMs: SHORT_MS });
        expect((await orders.get('o-kept'))!.state).toBe('completed');
        await elapse(f, SHORT_MS + 1);
        expect(await orders.get('o-kept')).toBeNull();
        expect((await orders.get('o-forever'))!.state).toBe('failed');
        expect((await orders.get('o-open'))!.state).toBe('searching');
      });
    });
  });
}
