import { describe, expect, it } from 'vitest';
import type { Point } from '../../src/orders/order.js';
import type { OrderStore } from '../../src/orders/order-store.js';
import { openTestBackend, TEST_TIMING } from '../support/backends.js';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { GatewayProcess } from '../support/dispatch-process.js';
import { service, tokens } from '../support/redis-gateway.js';
import { redisSuite } from '../support/redis-suite.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Offer deadlines live in Redis, not in the process that made the offer: a
 * gateway killed with SIGKILL before the driver answers loses nothing. The
 * deadline poller of another gateway (already running, or the restarted one)
 * expires the offer, releases the driver and offers the order to the next
 * candidate.
 */

const SITE: Point = { lat: 41.9, lng: 12.5 };
const ENV = {
  HEXFLEET_OFFER_TIMEOUT_MS: '1500',
  HEXFLEET_DEADLINE_POLL_MS: '50',
  // Drivers must stay fresh across a process restart on a slow machine.
  HEXFLEET_STALE_MS: '300000',
  HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '10000',
};

describe('crash recovery (gateway processes on one Redis)', () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  /** The gateways' environment, and the order store they share, opened by the test itself. */
  async function setup(): Promise<{ env: Record<string, string>; orders: OrderStore }> {
    const t = await openTestBackend('redis', { redisUrl: suite.server.url, timing: TEST_TIMING });
    cleanup.add(() => t.cleanup());
    return { env: { ...ENV, REDIS_URL: suite.server.url, HEXFLEET_REDIS_PREFIX: t.prefix }, orders: t.backend.orders };
  }

  async function driver(url: string, id: string, at?: Point): Promise<OfferDriver> {
    const d = await OfferDriver.open(url, tokens, id);
    cleanup.add(() => d.terminate());
    if (at) await d.ping(at);
    return d;
  }

  const events = (doc: any): [string, string | undefined][] => doc.history.map((h: { event: string; driverId?: string }) => [h.event, h.driverId]);

  it('the surviving gateway expires the dead one\'s offer and offers the next driver on its own socket', async () => {
    const { env, orders } = await setup();
    const [a, b] = await Promise.all([GatewayProcess.start(cleanup, env), GatewayProcess.start(cleanup, env)]);
    const token = await service();
    const apiA = new MatchApi(a.port, token);
    const apiB = new MatchApi(b.port, token);
    const first = await driver(a.driverUrl, 'cr-first', offset(SITE, 100));
    const next = await driver(b.driverUrl, 'cr-next', offset(SITE, 800));

    const r = await apiA.match({ orderId: 'o-crash', pickup: SITE });
    expect(r.json).toMatchObject({ state: 'offered', driverId: 'cr-first', attempt: 1 });
    await first.waitForOffer('o-crash');
    const offered = (await orders.get('o-crash'))!;

    // A dies before the driver answers; its driver socket goes with it.
    await a.kill9();
    await first.client.closed;

    const offer = await next.waitForOffer('o-crash');
    await waitFor(async () => (await apiB.history('o-crash')).state === 'offered', { what: 'the order to be offered again' });
    const doc = await apiB.history('o-crash');
    expect(doc).toMatchObject({ state: 'offered', driverId: 'cr-next', attempt: 2, tried: ['cr-first', 'cr-next'], offerExpiresAt: offer.expiresAt });
    expect(events(doc)).toEqual([['offered', 'cr-first'], ['expired', 'cr-first'], ['offered', 'cr-next']]);
    expect(await orders.reservationOf('cr-first')).toBeNull();
    const held = await orders.reservationOf('cr-next');
    expect(held).toMatchObject({ orderId: 'o-crash' });
    expect(held!.fence).toBeGreaterThan(offered.fence!);

    expect(await next.reply('o-crash', true)).toMatchObject({ type: 'offer_result', orderId: 'o-crash', state: 'accepted' });
    expect(events(await apiB.history('o-crash')).at(-1)).toEqual(['accepted', 'cr-next']);
    // The client's retry through the survivor finds the assignment.
    expect((await apiB.match({ orderId: 'o-crash', pickup: SITE })).json).toMatchObject({ state: 'accepted', driverId: 'cr-next', attempt: 2 });
  }, 120_000);

  it('with no other gateway, the restarted process expires the offer and moves the order on', async () => {
    const { env, orders } = await setup();
    const a = await GatewayProcess.start(cleanup, env);
    const first = await driver(a.driverUrl, 'cr2-first', offset(SITE, 100));
    const next = await driver(a.driverUrl, 'cr2-next', offset(SITE, 800));
    const r = await new MatchApi(a.port, await service()).match({ orderId: 'o-crash-2', pickup: SITE });
    expect(r.json).toMatchObject({ state: 'offered', driverId: 'cr2-first' });
    await first.waitForOffer('o-crash-2');
    await a.kill9();
    await Promise.all([first.client.closed, next.client.closed]);

    const restarted = await GatewayProcess.start(cleanup, env);
    const api = new MatchApi(restarted.port, await service());
    await waitFor(async () => (await api.history('o-crash-2')).attempt === 2, { what: 'the restarted gateway to move the order on' });
    const doc = await api.history('o-crash-2');
    expect(doc).toMatchObject({ state: 'offered', driverId: 'cr2-next' });
    expect(events(doc)).toEqual([['offered', 'cr2-first'], ['expired', 'cr2-first'], ['offered', 'cr2-next']]);
    expect(await orders.reservationOf('cr2-first')).toBeNull();
    expect(await orders.reservationOf('cr2-next')).toMatchObject({ orderId: 'o-crash-2' });

    // Both apps reconnect: the first driver's answer is too late; the next one accepts (the offer is in the store,
    // whether or not its frame reached the app before it reconnected).
    const firstAgain = await driver(restarted.driverUrl, 'cr2-first');
    const nextAgain = await driver(restarted.driverUrl, 'cr2-next');
    expect(await firstAgain.reply('o-crash-2', true)).toMatchObject({ type: 'error', code: 'offer_expired' });
    expect(await nextAgain.reply('o-crash-2', true)).toMatchObject({ type: 'offer_result', state: 'accepted' });
    expect(await orders.get('o-crash-2')).toMatchObject({ state: 'accepted', driverId: 'cr2-next' });
  }, 120_000);
});
