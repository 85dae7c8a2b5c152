import { CandidateSearch } from '../../src/matching/candidate-search.js';
import { latLngToCell } from 'h3-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AssignmentEvent, InProcessEventSink } from '../../src/orders/assignment-events.js';
import { DispatchMetrics } from '../../src/orders/dispatch-metrics.js';
import { DispatchPool } from '../../src/matching/dispatch-pool.js';
import type { DriverChannel } from '../../src/orders/driver-channel.js';
import { GreatCircleEtaProvider } from '../../src/eta/great-circle-eta-provider.js';
import type { OrderDoc, OrderState } from '../../src/orders/order.js';
import { OrderSaga } from '../../src/orders/order-saga.js';
import type { OrderStore } from '../../src/orders/order-store.js';
import type { ReconcileReport } from '../../src/reconcile/reconcile-report.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import type { DriverStore, StoreTiming } from '../../src/geo/driver-store.js';
import { quantize } from '../../src/geo/geodesy.js';
import { destination } from '../geo/geo-fixtures.js';
import type { IndexTamper } from '../support/index-tamper.js';
import { waitFor } from '../support/wait-for.js';


/** Reconciliation never needs a driver's socket: offers it makes go nowhere. */
const NO_SOCKETS: DriverChannel = { send: async () => {}, attach: () => () => {}, close: async () => {} };

/** Empty stores of one backend; `cleanup` closes them and removes what they stored. */
export interface ReconcileFixture {
  orders: OrderStore;
  drivers: DriverStore;
  tamper: IndexTamper;
  cleanup: () => Promise<void>;
}

export type MakeReconcileFixture = (timing: StoreTiming) => Promise<ReconcileFixture>;

/** Offline well above stale, so "silent past offline" is a `now` one minute on. */
export const RECONCILE_TIMING: StoreTiming = { staleMs: 30_000, offlineMs: 60_000, retentionMs: 3_600_000 };
const { staleMs: STALE_MS, offlineMs: OFFLINE_MS } = RECONCILE_TIMING;
/** Far longer than any case: such a lease or deadline never runs out while a case runs. */
const LONG_MS = 10 * 60_000;
const OFFER_TIMEOUT_MS = 20_000;
const BERLIN = { lat: 52.52, lng: 13.405 };

/** `northM` metres north of the pickup. */
function north(northM: number): { lat: number; lng: number } {
  const [lat, lng] = destination(BERLIN.lat, BERLIN.lng, 0, northM);
  return { lat, lng };
}

/** One case's world: the stores, a saga over them, and what the saga and the reconciler said. */
export interface World extends ReconcileFixture {
  saga: OrderSaga;
  reconciler: Reconciler;
  metrics: DispatchMetrics;
  events: AssignmentEvent[];
  warnings: { msg: string; orderId?: string; driverId?: string }[];
  /** The clock of the case: Redis leases run on real time, so stores get `Date.now()`-based times. */
  t0: number;
  /** An available driver `northM` north of the pickup whose last fix is `ageMs` old. */
  putDriver(driverId: string, northM?: number, ageMs?: number): Promise<void>;
  /** Commits a new order as it stands, reserving `reserve` if given (as the saga's offer does). */
  commitNew(doc: OrderDoc, effects: { reserve?: string; deadline: number | null }): Promise<OrderDoc>;
  /** Commits the next version of an order, with no effect but the deadline (what a buggy step would do). */
  commitNext(doc: OrderDoc, changes: Partial<OrderDoc>, effects?: { deadline?: number | null; retainMs?: number }): Promise<OrderDoc>;
  /** offered → accepted, extending the reservation as the saga does. */
  accept(doc: OrderDoc): Promise<OrderDoc>;
}

export function orderDoc(t0: number, orderId: string, state: OrderState, over: Partial<OrderDoc> = {}): OrderDoc {
  return {
    orderId, state,
    request: { orderId, pickup: BERLIN, radiusM: 3000, mode: 'immediate' },
    requestHash: `hash-${orderId}`,
    attempt: 0, tried: [], history: [], createdAt: t0, updatedAt: t0, version: 0,
    ...over,
  };
}

export function offeredTo(t0: number, orderId: string, driverId: string, over: Partial<OrderDoc> = {}): OrderDoc {
  return orderDoc(t0, orderId, 'offered', {
    driverId, attempt: 1, tried: [driverId], offerExpiresAt: t0 + LONG_MS,
    history: [{ at: t0, event: 'offered', attempt: 1, driverId }], ...over,
  });
}

type Counts = [found: number, acted: number];
export interface ReconcileCase {
  name: string;
  /** graceMs of the reconciler (default 0: a deadline just passed is stuck). */
  graceMs?: number;
  arrange: (w: World) => Promise<void>;
  /** When the reconciler runs (default t0). */
  at?: (t0: number) => number;
  expect: { reservations?: Counts; stuckOrders?: Counts; silentDrivers?: Counts; cellIndex?: Counts };
  /** What must hold after the run (the repair itself). */
  after: (w: World, now: number) => Promise<void>;
}

/** Inconsistencies built through the stores' own API, the way a buggy step would leave them. */
export const RECONCILE_CASES: ReconcileCase[] = [
  {
    name: 'a reservation whose order was cancelled without releasing it',
    arrange: async (w) => {
      await w.putDriver('d1');
      const offered = await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS });
      await w.commitNext(offered, { state: 'cancelled' }, { deadline: null });
    },
    expect: { reservations: [1, 1] },
    after: async (w) => {
      expect(await w.orders.reservationOf('d1')).toBeNull();
      expect(await w.orders.get('o1')).toMatchObject({ state: 'cancelled' });
    },
  },
  {
    name: 'a reservation whose order is gone',
    arrange: async (w) => {
      await w.putDriver('d1');
      const offered = await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS });
      await w.commitNext(offered, { state: 'failed' }, { deadline: null, retainMs: 1 });
      await waitFor(async () => (await w.orders.get('o1')) === null, { what: 'the finished order to expire' });
    },
    expect: { reservations: [1, 1] },
    after: async (w) => expect(await w.orders.reservations()).toEqual([]),
  },
  {
    name: 'a reservation left behind when the order moved to another driver; the new one stays',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.putDriver('d2', 100);
      const first = await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS });
      // A re-offer that forgot the release: d1 stays reserved for a fence the order no longer has.
      const r = await w.orders.commit({ ...first, driverId: 'd2', attempt: 2, tried: ['d1', 'd2'] }, first.version,
        { reserve: { driverId: 'd2', leaseMs: LONG_MS, staleMs: STALE_MS }, deadline: w.t0 + LONG_MS }, w.t0);
      expect(r.ok).toBe(true);
    },
    expect: { reservations: [1, 1] },
    after: async (w) => {
      expect(await w.orders.reservationOf('d1')).toBeNull();
      expect(await w.orders.reservationOf('d2')).toMatchObject({ orderId: 'o1' });
    },
  },
  {
    name: 'an offer past its deadline and missing from the due set: expired, offered to the next driver',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.putDriver('d2', 200);
      await w.commitNew(offeredTo(w.t0, 'o1', 'd1', { offerExpiresAt: w.t0 - 1 }), { reserve: 'd1', deadline: null });
      expect(await w.orders.due(w.t0, 10)).toEqual([]);
    },
    expect: { stuckOrders: [1, 1] },
    after: async (w, now) => {
      const doc = await w.orders.get('o1');
      expect(doc).toMatchObject({ state: 'offered', driverId: 'd2', attempt: 2, offerExpiresAt: now + OFFER_TIMEOUT_MS });
      expect(doc!.history.map((h) => `${h.event}:${h.driverId ?? ''}`)).toEqual(['offered:d1', 'expired:d1', 'offered:d2']);
      expect(await w.orders.reservationOf('d1')).toBeNull();
      expect(await w.orders.reservationOf('d2')).toMatchObject({ orderId: 'o1', fence: doc!.fence });
      expect(w.events.map((e) => e.type)).toEqual(['assignment.expired', 'assignment.offered']);
    },
  },
  {
    name: 'a search whose owner died, missing from the due set: taken over, and failed when nobody is near',
    arrange: async (w) => {
      await w.commitNew(orderDoc(w.t0, 'o1', 'searching', { leaseUntil: w.t0 - 1 }), { deadline: null });
    },
    expect: { stuckOrders: [1, 1] },
    after: async (w) => {
      expect(await w.orders.get('o1')).toMatchObject({ state: 'failed', failReason: 'no_driver' });
      expect(await w.orders.due(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    },
  },
  {
    name: 'a search whose owner died: taken over and offered',
    arrange: async (w) => {
      await w.putDriver('d1', 300);
      await w.commitNew(orderDoc(w.t0, 'o1', 'searching', { leaseUntil: w.t0 - 1 }), { deadline: w.t0 - 1 });
    },
    expect: { stuckOrders: [1, 1] },
    after: async (w) => {
      expect(await w.orders.get('o1')).toMatchObject({ state: 'offered', driverId: 'd1', attempt: 1 });
      expect(await w.orders.reservationOf('d1')).toMatchObject({ orderId: 'o1' });
    },
  },
  {
    name: 'an order within the grace after its deadline is the pollers\' work, not stuck',
    graceMs: 5_000,
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.commitNew(offeredTo(w.t0, 'o1', 'd1', { offerExpiresAt: w.t0 - 4_000 }), { reserve: 'd1', deadline: w.t0 - 4_000 });
    },
    expect: {},
    after: async (w) => expect(await w.orders.get('o1')).toMatchObject({ state: 'offered', driverId: 'd1', version: 1 }),
  },
  {
    name: 'an accepted order whose driver went silent past the offline threshold: flagged, not reassigned',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.accept(await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS }));
    },
    at: (t0) => t0 + OFFLINE_MS + 1,
    expect: { silentDrivers: [1, 1] },
    after: async (w, now) => {
      const doc = await w.orders.get('o1');
      expect(doc).toMatchObject({ state: 'accepted', driverId: 'd1' });
      expect(doc!.history.at(-1)).toEqual({ at: now, event: 'driver_silent', attempt: 1, driverId: 'd1', reason: 'silent_past_offline' });
      expect(await w.orders.reservationOf('d1')).toMatchObject({ orderId: 'o1' });
      expect(w.events).toEqual([{ type: 'assignment.driver_silent', orderId: 'o1', state: 'accepted', attempt: 1, at: now, driverId: 'd1', reason: 'silent_past_offline' }]);
      expect(w.warnings.filter((l) => l.orderId === 'o1' && /silent/.test(l.msg))).toHaveLength(1);
    },
  },
  {
    name: 'an accepted order whose driver has no record at all',
    arrange: async (w) => {
      await w.commitNew(orderDoc(w.t0, 'o1', 'accepted', { driverId: 'ghost', attempt: 1, tried: ['ghost'] }), { deadline: null });
    },
    expect: { silentDrivers: [1, 1] },
    after: async (w) => {
      expect(w.events).toMatchObject([{ type: 'assignment.driver_silent', orderId: 'o1', driverId: 'ghost', reason: 'no_driver_record' }]);
    },
  },
  {
    name: 'a driver left in a cell it moved out of, and another missing from its own cell',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.putDriver('d2', 1_000);
      const cellOf = (p: { lat: number; lng: number }): string => latLngToCell(quantize(p.lat), quantize(p.lng), 9);
      await w.tamper.addEntry(cellOf(north(1_000)), 'd1');
      await w.tamper.removeEntry(cellOf(north(1_000)), 'd2');
    },
    expect: { cellIndex: [2, 2] },
    after: async (w, now) => {
      const near = await w.drivers.nearby(BERLIN.lat, BERLIN.lng, 2_000, { limit: 10 }, now);
      expect(near.map((d) => d.driverId)).toEqual(['d1', 'd2']);
    },
  },
  {
    name: 'a healthy store: open orders of every kind, nothing found',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.putDriver('d2', 100);
      await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS });
      await w.accept(await w.commitNew(offeredTo(w.t0, 'o2', 'd2'), { reserve: 'd2', deadline: w.t0 + LONG_MS }));
      await w.commitNew(orderDoc(w.t0, 'o3', 'searching', { leaseUntil: w.t0 + LONG_MS }), { deadline: w.t0 + LONG_MS });
    },
    expect: {},
    after: async (w) => {
      expect((await w.orders.openOrders()).sort()).toEqual(['o1', 'o2', 'o3']);
      expect(w.events).toEqual([]);
    },
  },
];

const ZERO: Counts = [0, 0];

function countsOf(r: ReconcileReport): Required<ReconcileCase['expect']> {
  return {
    reservations: [r.reservations.found, r.reservations.fixed],
    stuckOrders: [r.stuckOrders.found, r.stuckOrders.fixed],
    silentDrivers: [r.silentDrivers.found, r.silentDrivers.flagged],
    cellIndex: [r.cellIndex.found, r.cellIndex.fixed],
  };
}

/**
 * The reconciliation cases, run against one backend (STYLE.md habit 8): each
 * case opens empty stores, creates one inconsistency, runs the reconciler,
 * checks the report, the metrics and the repair, and runs it again to find
 * nothing.
 */
export function reconcilerSuite(name: string, make: MakeReconcileFixture, extra: ReconcileCase[] = []): void {
  describe(`Reconciler: ${name}`, () => {
    let pool: DispatchPool;
    beforeAll(() => {
      pool = new DispatchPool({ threads: 1, maxQueue: 16 });
    });
    afterAll(async () => {
      await pool?.close();
    });
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    async function open(graceMs: number): Promise<World> {
      const fixture = await make(RECONCILE_TIMING);
      cleanups.push(fixture.cleanup);
      const events: AssignmentEvent[] = [];
      const sink = new InProcessEventSink();
      sink.subscribe((e) => events.push(e));
      const warnings: World['warnings'] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
      const metrics = new DispatchMetrics(new Registry(), { poolQueue: () => 0, poolUtilization: () => 0, openAssignments: async () => 0 });
      const { orders, drivers } = fixture;
      const saga = new OrderSaga({
        orders, metrics, log, events: sink, channel: NO_SOCKETS,
        candidates: new CandidateSearch(drivers, new GreatCircleEtaProvider(), pool, metrics.etaSource),
        options: {
          offerTimeoutMs: OFFER_TIMEOUT_MS, leaseMarginMs: 10_000, searchLeaseMs: 5_000,
          maxAttempts: 5, candidates: 5, staleMs: STALE_MS, orderRetentionMs: LONG_MS,
        },
      });
      const reconciler = new Reconciler({ orders, drivers, saga, metrics, log, options: { offlineMs: OFFLINE_MS, graceMs } });
      const t0 = Date.now();
      let seq = 0;
      return {
        ...fixture, saga, reconciler, metrics, events, warnings, t0,
        async putDriver(driverId, northM = 0, ageMs = 0) {
          const at = north(northM);
          await drivers.applyBatches([{ driverId, pings: [{ seq: ++seq, ...at, ts: t0 - ageMs, status: 'available' }] }], t0);
        },
        async commitNew(doc, { reserve, deadline }) {
          const r = await orders.commit(doc, 0, { ...(reserve ? { reserve: { driverId: reserve, leaseMs: LONG_MS, staleMs: STALE_MS } } : {}), deadline }, t0);
          if (!r.ok) throw new Error(`commit of ${doc.orderId} refused: ${r.reason}`);
          return { ...doc, version: r.version, ...(r.fence !== undefined ? { fence: r.fence } : {}) };
        },
        async commitNext(doc, changes, { deadline = null, retainMs } = {}) {
          const next = { ...doc, ...changes };
          const r = await orders.commit(next, doc.version, { deadline, ...(retainMs ? { retainMs } : {}) }, t0);
          if (!r.ok) throw new Error(`commit of ${doc.orderId} refused: ${r.reason}`);
          return { ...next, version: r.version };
        },
        async accept(doc) {
          const next: OrderDoc = { ...doc, state: 'accepted', history: [...doc.history, { at: t0, event: 'accepted', attempt: doc.attempt, driverId: doc.driverId! }] };
          delete next.offerExpiresAt;
          const r = await orders.commit(next, doc.version, { extend: { driverId: doc.driverId!, fence: doc.fence!, leaseMs: LONG_MS }, deadline: null }, t0);
          if (!r.ok) throw new Error(`accept of ${doc.orderId} refused: ${r.reason}`);
          return { ...next, version: r.version };
        },
      };
    }

    async function findings(w: World, kind: string, action: string): Promise<number> {
      const { values } = await w.metrics.reconcileFindings.get();
      return values.find((v) => v.labels.kind === kind && v.labels.action === action)?.value ?? 0;
    }

    it.each([...RECONCILE_CASES, ...extra])('$name', async (c) => {
      const w = await open(c.graceMs ?? 0);
      await c.arrange(w);
      const now = c.at?.(w.t0) ?? w.t0;
      const report = await w.reconciler.run(now);
      const want = { reservations: ZERO, stuckOrders: ZERO, silentDrivers: ZERO, cellIndex: ZERO, ...c.expect };
      expect(countsOf(report)).toEqual(want);
      expect(report.durationMs).toBeGreaterThanOrEqual(0);
      expect(await findings(w, 'reservation', 'found')).toBe(want.reservations[0]);
      expect(await findings(w, 'reservation', 'fixed')).toBe(want.reservations[1]);
      expect(await findings(w, 'stuck_order', 'fixed')).toBe(want.stuckOrders[1]);
      expect(await findings(w, 'silent_driver', 'flagged')).toBe(want.silentDrivers[1]);
      expect(await findings(w, 'cell_index', 'found')).toBe(want.cellIndex[0]);
      await c.after(w, now);

      const events = w.events.length;
      expect(countsOf(await w.reconciler.run(now)), 'a second run').toEqual({ reservations: ZERO, stuckOrders: ZERO, silentDrivers: ZERO, cellIndex: ZERO });
      expect(w.events, 'a second run publishes nothing').toHaveLength(events);
    });

    it('flags an accepted order once per silence: again only after the driver came back and went silent again', async () => {
      const w = await open(0);
      await w.putDriver('d1');
      await w.accept(await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS }));
      const silentAt = w.t0 + OFFLINE_MS + 1;
      expect((await w.reconciler.run(silentAt)).silentDrivers).toEqual({ found: 1, flagged: 1 });
      expect((await w.reconciler.run(silentAt + 1_000)).silentDrivers).toEqual({ found: 0, flagged: 0 });
      // Back: a fix after the flag. Silent again a threshold later: a new finding.
      await w.drivers.applyBatches([{ driverId: 'd1', pings: [{ seq: 99, ...BERLIN, ts: silentAt + 2_000, status: 'busy' }] }], silentAt + 2_000);
      expect((await w.reconciler.run(silentAt + 3_000)).silentDrivers).toEqual({ found: 0, flagged: 0 });
      expect((await w.reconciler.run(silentAt + 2_000 + OFFLINE_MS + 1)).silentDrivers).toEqual({ found: 1, flagged: 1 });
      expect(w.events.map((e) => e.type)).toEqual(['assignment.driver_silent', 'assignment.driver_silent']);
      expect((await w.orders.get('o1'))!.history.filter((h) => h.event === 'driver_silent')).toHaveLength(2);
    });

    it('two reconcilers at once: every finding is acted on once', async () => {
      const w = await open(0);
      await w.putDriver('d1');
      await w.putDriver('d2', 100);
      const offered = await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS });
      await w.commitNext(offered, { state: 'cancelled' }, { deadline: null });
      await w.accept(await w.commitNew(offeredTo(w.t0, 'o2', 'd2'), { reserve: 'd2', deadline: w.t0 + LONG_MS }));
      const other = new Reconciler({ orders: w.orders, drivers: w.drivers, saga: w.saga, metrics: w.metrics, log: pino({ level: 'silent' }), options: { offlineMs: OFFLINE_MS, graceMs: 0 } });
      const now = w.t0 + OFFLINE_MS + 1;
      const [a, b] = await Promise.all([w.reconciler.run(now), other.run(now)]);
      expect(a.reservations.fixed + b.reservations.fixed).toBe(1);
      expect(a.silentDrivers.flagged + b.silentDrivers.flagged).toBe(1);
      expect(w.events.map((e) => e.type)).toEqual(['assignment.driver_silent']);
      expect(await w.orders.reservationOf('d1')).toBeNull();
    });
  });
}
