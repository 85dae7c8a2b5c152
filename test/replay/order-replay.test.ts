import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import { HEADERS, topicsOf } from '../../src/eventlog/topics.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import type { OrderDoc, OrderState } from '../../src/orders/order.js';
import { type OrderEvent, orderEventId, orderEventRecord } from '../../src/orders/order-events.js';
import { replayStores } from '../../src/replay/store-replay.js';
import { waitFor } from '../support/wait-for.js';
import { MemoryEventLog } from './memory-event-log.js';

/**
 * The order half of store replay on the memory stores: each order written
 * as its newest event in the window through OrderStore.restore, its
 * reservation re-derived. (The Kafka test has no orders yet: the relay that
 * puts the outbox on the orders topic has not landed.)
 */

const topics = topicsOf('test');
const T0 = Date.parse('2026-11-27T12:00:00Z');
const TIMING = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };
const window = (to: number) => ({ positions: { kind: 'earliest' as const }, orders: { kind: 'earliest' as const }, to });

let stores: MemoryDriverStore[] = [];
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});

function driverStore(): MemoryDriverStore {
  const s = new MemoryDriverStore(new RingPlanner(9), TIMING);
  stores.push(s);
  return s;
}

function targets(drivers = driverStore()): { drivers: MemoryDriverStore; orders: MemoryOrderStore } {
  return { drivers, orders: new MemoryOrderStore(drivers) };
}

/** An order event as the outbox records it: the whole order after the transition. */
function orderEvent(orderId: string, version: number, state: OrderState, at: number, driverId?: string): OrderEvent {
  const doc: OrderDoc = {
    orderId,
    state,
    request: { orderId, pickup: { lat: 52.52, lng: 13.405 }, radiusM: 2000, mode: 'immediate' },
    requestHash: 'h',
    attempt: driverId ? 1 : 0,
    tried: driverId ? [driverId] : [],
    history: [],
    createdAt: T0,
    updatedAt: at,
    version,
    ...(state === 'searching' ? { leaseUntil: at + 5000 } : {}),
    ...(state === 'offered' ? { offerExpiresAt: at + 15_000 } : {}),
    ...(driverId ? { driverId, fence: version } : {}),
  };
  return { id: orderEventId(orderId, version), orderId, version, type: `order.${state}`, actor: 'service', at, doc };
}

describe('store replay: orders', () => {
  const events = [
    orderEvent('o1', 1, 'searching', T0 + 1),
    orderEvent('o1', 2, 'offered', T0 + 2, 'd1'),
    orderEvent('o1', 3, 'accepted', T0 + 3, 'd1'),
    orderEvent('o2', 1, 'searching', T0 + 4),
    orderEvent('o2', 2, 'failed', T0 + 5),
    orderEvent('o1', 3, 'accepted', T0 + 3, 'd1'), // Delivered twice (at least once).
    orderEvent('o3', 1, 'searching', T0 + 6),
    orderEvent('o3', 2, 'cancelled', T0 + 7_000),
  ];

  function orderLog(): MemoryEventLog {
    const log = new MemoryEventLog();
    log.appendNow(topics.orders, events.map(orderEventRecord));
    log.appendNow(topics.orders, [
      { key: 'o9', value: Buffer.from('{"no":"order"}'), headers: { [HEADERS.schema]: 'orders/1' }, timestamp: T0 + 8 },
      orderEventRecord(orderEvent('o8', 0, 'searching', T0 + 9)),
    ]);
    return log;
  }

  it('writes each order as its newest event up to --to, with its reservation; a second replay writes nothing', async () => {
    const t = targets();
    const s = await replayStores(orderLog(), topics, t, { window: window(T0 + 3_600_000), dryRun: false });
    expect(s.orders).toEqual({ records: 10, orders: 3, restored: 3, current: 0, superseded: 5 });
    expect(s.undecodable.first.map((u) => u.reason)).toEqual([expect.stringContaining('needs orderId'), expect.stringContaining('version 0')]);
    expect(s.undecodable.count).toBe(2);
    expect(await t.orders.get('o1')).toEqual(events[2]!.doc);
    expect((await t.orders.get('o2'))?.state).toBe('failed');
    expect((await t.orders.get('o3'))?.state).toBe('cancelled');
    expect(await t.orders.reservationOf('d1')).toMatchObject({ orderId: 'o1', fence: 3 });
    expect((await t.orders.openOrders()).sort()).toEqual(['o1']);

    const again = await replayStores(orderLog(), topics, t, { window: window(T0 + 3_600_000), dryRun: false });
    expect(again.orders).toMatchObject({ restored: 0, current: 3 });
  });

  it('--to in the middle restores the orders as they were then', async () => {
    const t = targets();
    await replayStores(orderLog(), topics, t, { window: window(T0 + 2), dryRun: false });
    expect((await t.orders.get('o1'))?.version).toBe(2);
    expect(await t.orders.get('o2')).toBeNull();
    expect(await t.orders.reservationOf('d1')).toMatchObject({ orderId: 'o1', fence: 2 });
  });

  it('a finished order keeps what remains of its retention; one past it is closed and then gone', async () => {
    const t = targets();
    const now = Date.now();
    const log = new MemoryEventLog();
    log.appendNow(topics.orders, [
      orderEventRecord(orderEvent('recent', 1, 'completed', now - 1000, 'd7')),
      orderEventRecord(orderEvent('old', 1, 'completed', now - 120_000, 'd8')),
      orderEventRecord(orderEvent('open', 1, 'searching', now - 120_000)),
    ]);
    const s = await replayStores(log, topics, t, { window: window(now), dryRun: false, orderRetentionMs: 60_000 });
    expect(s.orders).toMatchObject({ orders: 3, restored: 3 });
    expect((await t.orders.get('recent'))?.state).toBe('completed');
    expect((await t.orders.get('open'))?.state).toBe('searching');
    await waitFor(async () => (await t.orders.get('old')) === null, { what: 'the order past its retention to expire' });
  });
});
