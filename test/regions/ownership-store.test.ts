import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '../../src/backend/backend.js';
import type { OrderDoc } from '../../src/orders/order.js';
import type { NewOrder } from '../../src/orders/order-store.js';
import { offeredDoc } from '../../src/orders/offered-doc.js';
import { BackendHosts, openTestBackend, TEST_BACKENDS, TEST_TIMING, type TestBackend } from '../support/backends.js';

/**
 * The ownership records of every engine (OwnershipStore: a higher epoch
 * wins, an equal one never changes the region, applying is idempotent) and
 * the fence they put on reserving (CommitEffects.reserve.homeRegion,
 * FirstOffer.homeRegion): the same cases on memory, redis, sentinel and
 * cluster, through the engine as createBackend opens it.
 */

const hosts = new BackendHosts();
afterAll(() => hosts.stop());

let open: TestBackend | undefined;
afterEach(async () => {
  await open?.cleanup();
  open = undefined;
});

async function backendOf(kind: BackendKind): Promise<TestBackend> {
  const target = await hosts.target(kind);
  open = await openTestBackend(kind, { ...(target ? { target } : {}), timing: TEST_TIMING });
  return open;
}

let n = 0;
/** A driver with a fresh, available, indexed record near Berlin. */
async function driver(tb: TestBackend, now: number): Promise<string> {
  const driverId = `own-${++n}-${Date.now() % 100_000}`;
  await tb.backend.drivers.applyBatches([{ driverId, pings: [{ seq: 1, lat: 52.52 + n * 0.001, lng: 13.405, ts: now, status: 'available' }], vehicle: 'car' }], now);
  return driverId;
}

function searching(orderId: string, now: number): OrderDoc {
  return {
    orderId, state: 'searching', request: { orderId, pickup: { lat: 52.52, lng: 13.405 }, radiusM: 3000, mode: 'immediate' },
    requestHash: 'h', attempt: 0, tried: [], history: [], leaseUntil: now + 60_000, createdAt: now, updatedAt: now, version: 0,
  };
}

const pick = (driverId: string) => ({ driverId, distanceM: 10, etaS: 5, etaSource: 'fallback' as const });

/** Tries to reserve `driverId` for a new order, fenced by `homeRegion`; the commit's result. */
async function reserve(tb: TestBackend, driverId: string, homeRegion: string | undefined, now: number) {
  const orderId = `o-${++n}`;
  const doc = searching(orderId, now);
  const created = await tb.backend.orders.commit(doc, 0, { deadline: null }, now);
  expect(created.ok).toBe(true);
  return tb.backend.orders.commit(offeredDoc({ ...doc, version: 1 }, pick(driverId), now, now + 30_000), 1, {
    reserve: { driverId, leaseMs: 60_000, staleMs: 30_000, ...(homeRegion !== undefined ? { homeRegion } : {}) }, deadline: now + 30_000,
  }, now);
}

describe.each(TEST_BACKENDS)('ownership on the %s engine', (kind: BackendKind) => {
  // Table: records applied in order → what each apply answers, and the record held at the end.
  const cases: { name: string; steps: { region: string; epoch: number; applied: boolean }[]; held: { region: string; epoch: number } }[] = [
    { name: 'the first claim is written', steps: [{ region: 'a', epoch: 1, applied: true }], held: { region: 'a', epoch: 1 } },
    { name: 'an equal epoch never changes the region', steps: [{ region: 'a', epoch: 1, applied: true }, { region: 'b', epoch: 1, applied: false }], held: { region: 'a', epoch: 1 } },
    { name: 'a higher epoch wins', steps: [{ region: 'a', epoch: 1, applied: true }, { region: 'b', epoch: 2, applied: true }], held: { region: 'b', epoch: 2 } },
    { name: 'a late lower epoch loses', steps: [{ region: 'b', epoch: 2, applied: true }, { region: 'a', epoch: 1, applied: false }], held: { region: 'b', epoch: 2 } },
    { name: 'the same record twice is a no-op (idempotent)', steps: [{ region: 'b', epoch: 3, applied: true }, { region: 'b', epoch: 3, applied: false }], held: { region: 'b', epoch: 3 } },
    { name: 'moving back takes a higher epoch still', steps: [{ region: 'a', epoch: 1, applied: true }, { region: 'b', epoch: 2, applied: true }, { region: 'a', epoch: 3, applied: true }], held: { region: 'a', epoch: 3 } },
  ];

  it.each(cases)('$name', async ({ steps, held }) => {
    const tb = await backendOf(kind);
    const driverId = `own-table-${++n}`;
    expect(await tb.backend.ownership.get(driverId)).toBeNull();
    let before: { region: string; epoch: number } | null = null;
    for (const s of steps) {
      const r = await tb.backend.ownership.apply(driverId, { region: s.region, epoch: s.epoch });
      expect(r.applied, `${s.region}@${s.epoch}`).toBe(s.applied);
      expect(r.previous).toEqual(before);
      if (s.applied) before = { region: s.region, epoch: s.epoch };
      expect(r.current).toEqual(before);
    }
    expect(await tb.backend.ownership.get(driverId)).toEqual(held);
  });

  it('regionsOf reads many drivers\' homes at once, in order, null for a driver without a record', async () => {
    const tb = await backendOf(kind);
    const ids = Array.from({ length: 40 }, (_, i) => `own-many-${++n}-${i}`);
    for (const [i, id] of ids.entries()) if (i % 3 !== 2) await tb.backend.ownership.apply(id, { region: i % 3 === 0 ? 'a' : 'b', epoch: 1 + (i % 2) });
    expect(await tb.backend.ownership.regionsOf(ids)).toEqual(ids.map((_, i) => (i % 3 === 2 ? null : i % 3 === 0 ? 'a' : 'b')));
    expect(await tb.backend.ownership.regionsOf([])).toEqual([]);
  });

  it('refuses records that are not ones (epoch 0, fractional, a region with a space), naming the field', async () => {
    const tb = await backendOf(kind);
    await expect(tb.backend.ownership.apply('d', { region: 'a', epoch: 0 })).rejects.toThrow(/epoch must be a positive integer/);
    await expect(tb.backend.ownership.apply('d', { region: 'a', epoch: 1.5 })).rejects.toThrow(/epoch must be a positive integer/);
    await expect(tb.backend.ownership.apply('d', { region: 'a b', epoch: 1 })).rejects.toThrow(/region must be a non-empty name/);
    expect(await tb.backend.ownership.get('d')).toBeNull();
  });

  it('the fence: a commit reserving for region a takes only a driver whose record names a, and one without homeRegion is not fenced', async () => {
    const tb = await backendOf(kind);
    const now = Date.now();
    const unowned = await driver(tb, now);
    const theirs = await driver(tb, now);
    const ours = await driver(tb, now);
    await tb.backend.ownership.apply(theirs, { region: 'b', epoch: 1 });
    await tb.backend.ownership.apply(ours, { region: 'a', epoch: 1 });
    expect(await reserve(tb, unowned, 'a', now)).toEqual({ ok: false, reason: 'driver_unavailable' });
    expect(await reserve(tb, theirs, 'a', now)).toEqual({ ok: false, reason: 'driver_unavailable' });
    expect(await tb.backend.orders.reservationOf(theirs)).toBeNull();
    expect(await reserve(tb, ours, 'a', now)).toMatchObject({ ok: true, version: 2 });
    // Without a region (a deployment without regions) nothing is fenced.
    expect(await reserve(tb, unowned, undefined, now)).toMatchObject({ ok: true, version: 2 });
  });

  it('a move fences the old home: after b applies epoch 2 a reserve for a loses, one for b wins', async () => {
    const tb = await backendOf(kind);
    const now = Date.now();
    const d = await driver(tb, now);
    await tb.backend.ownership.apply(d, { region: 'a', epoch: 1 });
    await tb.backend.ownership.apply(d, { region: 'b', epoch: 2 });
    // The old home's late write of epoch 1 changes nothing.
    expect((await tb.backend.ownership.apply(d, { region: 'a', epoch: 1 })).applied).toBe(false);
    expect(await reserve(tb, d, 'a', now)).toEqual({ ok: false, reason: 'driver_unavailable' });
    expect(await reserve(tb, d, 'b', now)).toMatchObject({ ok: true, version: 2 });
  });

  it('create with an offer skips the picks another region owns and offers the first one this region owns', async () => {
    const tb = await backendOf(kind);
    const now = Date.now();
    const theirs = await driver(tb, now);
    const ours = await driver(tb, now);
    await tb.backend.ownership.apply(theirs, { region: 'b', epoch: 1 });
    await tb.backend.ownership.apply(ours, { region: 'a', epoch: 1 });
    const orderId = `o-create-${++n}`;
    const order: NewOrder = {
      doc: searching(orderId, now), effects: { deadline: now + 60_000, event: { type: 'order.created', actor: 'service' } },
      then: { offer: { picks: [pick(theirs), pick(ours)], offerExpiresAt: now + 30_000, leaseMs: 60_000, staleMs: 30_000, homeRegion: 'a', event: { type: 'assignment.offered', actor: 'service' } } },
    };
    const r = await tb.backend.orders.create(order, now);
    expect(r).toMatchObject({ ok: true, version: 2, picked: 1, refused: 1 });
    expect(await tb.backend.orders.get(orderId)).toMatchObject({ state: 'offered', driverId: ours });
    expect(await tb.backend.orders.reservationOf(theirs)).toBeNull();
  });

  it('a foreign (replicated) order is restored read-only: no reservation, no deadline', async () => {
    const tb = await backendOf(kind);
    const now = Date.now();
    const d = await driver(tb, now);
    const orderId = `o-foreign-${++n}`;
    const doc: OrderDoc = { ...offeredDoc(searching(orderId, now), pick(d), now, now - 1), fence: 7, version: 2, homeRegion: 'b' };
    expect(await tb.backend.orders.restore(doc, { foreign: true })).toBe(true);
    expect(await tb.backend.orders.get(orderId)).toMatchObject({ state: 'offered', driverId: d, version: 2, homeRegion: 'b' });
    expect(await tb.backend.orders.reservationOf(d)).toBeNull();
    expect(await tb.backend.orders.due(now + 60_000, 10)).not.toContain(orderId);
    // The same order restored as local (replay) holds its driver and its deadline, as before.
    const local = `o-local-${++n}`;
    expect(await tb.backend.orders.restore({ ...doc, orderId: local, request: { ...doc.request, orderId: local } })).toBe(true);
    expect(await tb.backend.orders.reservationOf(d)).toMatchObject({ orderId: local, fence: 7 });
    expect(await tb.backend.orders.due(now + 60_000, 10)).toContain(local);
  });
});
