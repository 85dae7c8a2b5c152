import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MatchApi, OfferDriver, offset } from '../support/dispatch-client.js';
import { GatewayProcess } from '../support/dispatch-process.js';
import { httpRequest } from '../support/http-request.js';
import { freshPrefix, service, startSharedGateways, tokens } from '../support/redis-gateway.js';
import { redisSuite } from '../support/redis-suite.js';
import { waitFor } from '../support/wait-for.js';
import { frameAfter, framesOf, openTrack, statusOf, subscribe, type TrackClient, type TrackFrame } from './track-client.js';

/**
 * Two gateways sharing one Redis, as behind a load balancer: the driver is
 * connected to gateway A, its customer to gateway B. Positions cross through
 * the Redis position bus, saga transitions through the assignment bus,
 * whichever gateway commits them.
 */
describe('live tracking across two gateways sharing one Redis', () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  /** Two gateways, each receiving the other's positions and events before the test starts. */
  async function twoGateways() {
    const { prefix } = freshPrefix(cleanup, suite.server.url);
    const [a, b] = await startSharedGateways(cleanup, suite.server.url, prefix, 2, { HEXFLEET_OFFER_TIMEOUT_MS: '600000' });
    return { a: a!, b: b! };
  }

  /** A driver app on gateway `url` (a fresh driver id), closed by the cleanup. */
  async function courier(url: string): Promise<OfferDriver> {
    const driver = await OfferDriver.open(url, tokens, `drv-${randomUUID().slice(0, 6)}`);
    cleanup.add(() => driver.terminate());
    return driver;
  }

  async function track(port: number, token: string): Promise<TrackClient> {
    const c = await openTrack(port, token);
    cleanup.add(() => c.terminate());
    return c;
  }

  it('shows a customer on B the driver on A: assignment transitions, status and positions, both ways', async () => {
    const { a, b } = await twoGateways();
    const at = { lat: 48.137, lng: 11.575 };
    const driver = await courier(a.driverUrl);
    await driver.ping(at);

    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const issued = await httpRequest(b.port, 'POST', `/v1/orders/${orderId}/tracking-token`, { token: await service() });
    expect(issued.status, issued.text).toBe(200);
    const onB = await track(b.port, issued.json.token);
    const onA = await track(a.port, await tokens.sign({ role: 'customer', sub: 'c-1', orders: [orderId] }));
    // Admin actions need a second factor (amr) used recently (auth_time).
    const ops = await track(b.port, await tokens.sign({ role: 'admin', sub: 'ops', amr: ['pwd', 'otp'], authTimeS: Math.floor(Date.now() / 1000) }));
    expect((await subscribe(onB, orderId)).state).toBe('waiting');
    expect((await subscribe(onA, orderId)).state).toBe('waiting');
    ops.send({ type: 'subscribe_area', bbox: [at.lng - 0.01, at.lat - 0.01, at.lng + 0.01, at.lat + 0.01] });
    await ops.waitForReply((f) => f.type === 'area_subscribed', 'area_subscribed');

    // Matched and accepted on A: B hears both transitions.
    const match = await new MatchApi(a.port, await service()).match({ orderId, pickup: offset(at, 100) });
    expect(match.json.driverId).toBe(driver.driverId);
    await frameAfter(onB, 0, (f) => f.type === 'assignment' && f.state === 'offered', 'offered on B');
    expect((await driver.answerOffer(orderId, true)).state).toBe('accepted');
    const accepted = await frameAfter(onB, 0, (f) => f.type === 'assignment' && f.state === 'accepted', 'accepted on B');
    expect(accepted).toMatchObject({ orderId, driverId: driver.driverId });
    await statusOf(onB, orderId, 'live');

    // Pings applied on A reach the customer and the operator on B.
    let moved: { lat: number; lng: number } | undefined;
    for (let i = 1; i <= 3; i++) {
      moved = await driver.ping(offset(at, i * 50));
      const lat = moved.lat;
      await frameAfter(onB, 0, (f) => f.type === 'position' && f.lat === lat, `position ${i} on B`);
      await frameAfter(ops, 0, (f) => f.type === 'position' && f.lat === lat && f.driverId === driver.driverId, `area position ${i} on B`);
    }
    const pos = framesOf(onB, 'position').at(-1)!;
    expect(pos).toMatchObject({ orderId, driverId: driver.driverId, lng: moved!.lng });

    // Completed on B: the customer on A hears it.
    expect((await new MatchApi(b.port, await service()).complete(orderId)).status).toBe(200);
    for (const c of [onA, onB]) await frameAfter(c, 0, (f) => f.type === 'assignment' && f.state === 'completed', 'completed');
    expect(framesOf(onA, 'assignment').map((f: TrackFrame) => f.state)).toEqual(['offered', 'accepted', 'completed']);
    expect(framesOf(onB, 'assignment').map((f: TrackFrame) => f.state)).toEqual(['offered', 'accepted', 'completed']);
  });

  it('gives a subscriber on B the last-known position of a driver that pinged A before it subscribed', async () => {
    const { a, b } = await twoGateways();
    const at = { lat: 48.2, lng: 11.6 };
    const driver = await courier(a.driverUrl);
    await driver.ping(at);
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    await new MatchApi(a.port, await service()).match({ orderId, pickup: at });
    expect((await driver.answerOffer(orderId, true)).state).toBe('accepted');
    const last = await driver.ping(offset(at, 25));
    const c = await track(b.port, await tokens.sign({ role: 'customer', sub: 'c-2', orders: [orderId] }));
    expect(await subscribe(c, orderId)).toMatchObject({ state: 'live', lastTs: last.ts });
    await waitFor(() => framesOf(c, 'position').some((f) => f.lat === last.lat && f.ts === last.ts), { what: 'the last-known position on B' });
  });
  it('works across two gateway processes (hexfleet serve) sharing one Redis', async () => {
    const { prefix } = freshPrefix(cleanup, suite.server.url);
    const env = { REDIS_URL: suite.server.url, HEXFLEET_REDIS_PREFIX: prefix, HEXFLEET_OFFER_TIMEOUT_MS: '600000' };
    const [a, b] = await Promise.all([GatewayProcess.start(cleanup, env), GatewayProcess.start(cleanup, env)]);
    const at = { lat: 48.15, lng: 11.55 };
    const driver = await courier(a.driverUrl);
    await driver.ping(at);
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const match = await new MatchApi(a.port, await service()).match({ orderId, pickup: offset(at, 80) });
    expect(match.json.driverId, match.text).toBe(driver.driverId);
    expect((await driver.answerOffer(orderId, true)).state).toBe('accepted');
    const onB = await track(b.port, await tokens.sign({ role: 'customer', sub: 'c-3', orders: [orderId] }));
    expect((await subscribe(onB, orderId)).state).toBe('live');
    // B subscribes to the position channel when it starts; keep the driver moving until a fresh fix crosses over.
    // Positions are throttled (latest wins), so any of the pings sent after subscribing may be the one delivered.
    let step = 0;
    const sent = new Set<number>();
    await waitFor(async () => {
      sent.add((await driver.ping(offset(at, ++step * 20))).lat);
      return framesOf(onB, 'position').some((f) => sent.has(f.lat as number) && f.driverId === driver.driverId);
    }, { what: 'a position pinged on process A to reach the customer on process B', intervalMs: 100 });
    expect((await new MatchApi(b.port, await service()).complete(orderId)).status).toBe(200);
    await frameAfter(onB, 0, (f) => f.type === 'assignment' && f.state === 'completed', 'completed on B');
  });
});
