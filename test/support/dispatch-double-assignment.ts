import { expect } from 'vitest';
import type { Point } from '../../src/orders/order.js';
import type { OrderStore } from '../../src/orders/order-store.js';
import { seededRandom } from '../geo/geo-fixtures.js';
import { expectNoDoubleAssignment, type MatchApi, type OfferDriver, offset } from './dispatch-client.js';

/**
 * The "never two open assignments for one driver" scenario, shared by the
 * memory, Redis and two-process tests: hundreds of concurrent matches over a
 * few drivers, then rejections, an acceptance and a cancellation, then as
 * many matches again, checked from the store after each step.
 */
export interface DoubleAssignmentScenario {
  /** The gateways' match APIs; requests are spread over them round-robin. */
  apis: MatchApi[];
  /** Online drivers at `site` (at least 4), on any gateway, not answering until told. */
  drivers: OfferDriver[];
  /** The store every gateway writes (any client of it). */
  orders: OrderStore;
  site: Point;
  ordersPerRound: number;
}

/** `count` concurrent matches at pickups scattered within ~600 m of the site, spread over the APIs. */
async function burst(s: DoubleAssignmentScenario, prefix: string, seed: number): Promise<{ orderId: string; status: number; json: any }[]> {
  const rand = seededRandom(seed);
  return Promise.all(Array.from({ length: s.ordersPerRound }, async (_, i) => {
    const orderId = `${prefix}-${i}`;
    const api = s.apis[i % s.apis.length]!;
    const r = await api.match({ orderId, pickup: offset(s.site, (rand() - 0.5) * 1_200, (rand() - 0.5) * 1_200) });
    return { orderId, status: r.status, json: r.json };
  }));
}

/** Runs the scenario; every expectation failure names what went wrong. */
export async function runDoubleAssignmentScenario(s: DoubleAssignmentScenario): Promise<void> {
  const { drivers, orders } = s;
  const driverIds = drivers.map((d) => d.driverId);

  // Round 1: as many offers as drivers, each driver in exactly one.
  const first = await burst(s, 'r1', 1);
  expect(first.filter((r) => r.status !== 200 && r.status !== 404), 'answers other than 200 and 404').toEqual([]);
  for (const r of first.filter((x) => x.status === 404)) expect(r.json).toMatchObject({ code: 'no_driver' });
  const offered = first.filter((r) => r.status === 200);
  expect(offered, 'orders offered in round 1').toHaveLength(drivers.length);
  expect(new Set(offered.map((r) => r.json.driverId))).toEqual(new Set(driverIds));
  const holding1 = await expectNoDoubleAssignment(orders, first.map((r) => r.orderId), driverIds);
  expect(holding1).toHaveLength(drivers.length);
  const round1 = driverIds.map((id) => holding1.find((doc) => doc.driverId === id)!.orderId);
  // Each driver's socket got exactly the one offer the store says it holds (across gateways too).
  for (const [i, d] of drivers.entries()) {
    await d.waitForOffer(round1[i]!);
    expect(d.offers.map((o) => o.orderId), `offers received by ${d.driverId}`).toEqual([round1[i]]);
  }

  // Between the rounds: two drivers reject at once (their orders look for
  // someone else, maybe each other's driver), one accepts, one order is
  // cancelled through another gateway than most.
  const answers = await Promise.all([
    drivers[0]!.reply(round1[0]!, false),
    drivers[1]!.reply(round1[1]!, false),
    drivers[2]!.reply(round1[2]!, true),
    s.apis[s.apis.length - 1]!.cancel(round1[3]!).then((r) => r.json),
  ]);
  expect(answers.map((a) => a.state)).toEqual(['rejected', 'rejected', 'accepted', 'cancelled']);
  await expectNoDoubleAssignment(orders, first.map((r) => r.orderId), driverIds);

  // Round 2: every free driver is taken again, by one order each.
  const second = await burst(s, 'r2', 2);
  expect(second.filter((r) => r.status !== 200 && r.status !== 404), 'answers other than 200 and 404').toEqual([]);
  const holding2 = await expectNoDoubleAssignment(orders, [...first, ...second].map((r) => r.orderId), driverIds);
  expect(holding2).toHaveLength(drivers.length);
  expect(new Set(holding2.map((doc) => doc.driverId))).toEqual(new Set(driverIds));
  expect(holding2.find((doc) => doc.driverId === driverIds[2])).toMatchObject({ orderId: round1[2], state: 'accepted' });
  const open = new Set(await orders.openOrders());
  expect(holding2.filter((doc) => !open.has(doc.orderId))).toEqual([]);
  for (const d of drivers) await d.waitForOffer(holding2.find((doc) => doc.driverId === d.driverId)!.orderId);
}
