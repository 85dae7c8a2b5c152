import { describe, expect, it } from 'vitest';
import { metricSum, scrapeMetrics } from '../../kit/metrics-scrape.js';
import type { WirePing } from '../../src/protocol/wire-frames.js';
import { connectDriver, freshPrefix, getDriver, nearbyIds, startSharedGateways } from '../support/redis-gateway.js';
import { redisSuite } from '../support/redis-suite.js';

/**
 * Two gateways on different ports sharing one Redis and one prefix, as in a
 * deployment behind a load balancer: a driver may land on either, and every
 * gateway serves the same view. Exactly-once by seq holds across gateways.
 */

/** Fresh fix times for the whole test (staleness is set far above its duration). */
const T0 = Date.now() - 60_000;
const round7 = (x: number): number => Math.round(x * 1e7) / 1e7;

/** About 111 m further north per seq and 1.1 km per driver, so radius searches tell positions apart. */
function ping(driver: number, seq: number): WirePing {
  return { seq, lat: round7(48.85 + driver * 0.01 + seq * 0.001), lng: 2.35, ts: T0 + seq };
}
function pings(driver: number, from: number, to: number): WirePing[] {
  const out: WirePing[] = [];
  for (let s = from; s <= to; s++) out.push(ping(driver, s));
  return out;
}

describe('two gateways sharing one Redis', () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  async function twoGateways() {
    const { prefix } = freshPrefix(cleanup, suite.server.url);
    const env = { HEXFLEET_STALE_MS: '600000', HEXFLEET_OFFLINE_MS: '600000' };
    const [a, b] = await startSharedGateways(cleanup, suite.server.url, prefix, 2, env);
    expect(a!.port).not.toBe(b!.port);
    return { a: a!.port, b: b!.port, adminA: a!.adminPort };
  }

  it('serves a driver streaming to one gateway from the other, across a reconnect, exactly once by seq', async () => {
    const { a, b, adminA } = await twoGateways();
    const id = 'drv-roaming';
    const expectAt = async (port: number, seq: number) => {
      const want = ping(0, seq);
      expect(await getDriver(port, id)).toMatchObject({ driverId: id, seq, lat: want.lat, lng: want.lng, ts: want.ts });
    };

    // Streams to A …
    const onA = await connectDriver(cleanup, a, id);
    expect(await onA.sendBatch(pings(0, 1, 3))).toEqual({ type: 'ack', seq: 3, binary: false });
    expect(await onA.sendBatch(pings(0, 4, 5))).toEqual({ type: 'ack', seq: 5, binary: false });
    // … and B sees it, by id and by place.
    await expectAt(b, 5);
    const p5 = ping(0, 5);
    expect(await nearbyIds(b, p5.lat, p5.lng, 50)).toEqual([id]);
    expect(await nearbyIds(a, p5.lat, p5.lng, 50)).toEqual([id]);

    // The app reconnects, this time landing on B, and goes on with higher seqs.
    await onA.close();
    const onB = await connectDriver(cleanup, b, id, 'msgpack');
    expect(await onB.sendBatch(pings(0, 6, 8))).toEqual({ type: 'ack', seq: 8, binary: true });
    await expectAt(a, 8);
    await expectAt(b, 8);
    const p8 = ping(0, 8);
    expect(await nearbyIds(a, p8.lat, p8.lng, 50)).toEqual([id]);
    expect(await nearbyIds(a, p5.lat, p5.lng, 50)).toEqual([]);

    // Old batches replayed through A (a stale outbox, a second device) are acked
    // as duplicates and never move the driver back.
    const dupA = metricSum(await scrapeMetrics(adminA), 'hexfleet_pings_duplicate_total');
    const appliedA = metricSum(await scrapeMetrics(adminA), 'hexfleet_pings_applied_total');
    const againOnA = await connectDriver(cleanup, a, id);
    expect(await againOnA.sendBatch(pings(0, 1, 3))).toEqual({ type: 'ack', seq: 3, binary: false });
    expect(await againOnA.sendBatch(pings(0, 4, 5))).toEqual({ type: 'ack', seq: 5, binary: false });
    expect(metricSum(await scrapeMetrics(adminA), 'hexfleet_pings_duplicate_total')).toBe(dupA + 5);
    expect(metricSum(await scrapeMetrics(adminA), 'hexfleet_pings_applied_total')).toBe(appliedA);
    await expectAt(a, 8);
    await expectAt(b, 8);
    const p1 = ping(0, 1);
    expect(await nearbyIds(b, p1.lat, p1.lng, 50)).toEqual([]);
    expect(await nearbyIds(b, p8.lat, p8.lng, 50)).toEqual([id]);

    // Both connections stay usable: the next seq through B is applied.
    expect(await onB.sendBatch(pings(0, 9, 9))).toEqual({ type: 'ack', seq: 9, binary: true });
    await expectAt(a, 9);
  });

  it('answers nearby on either gateway with drivers connected to both', async () => {
    const { a, b } = await twoGateways();
    const drivers = [0, 1, 2, 3].map((d) => ({ d, id: `drv-${d}`, port: d % 2 === 0 ? a : b }));
    for (const { d, id, port } of drivers) {
      const c = await connectDriver(cleanup, port, id, d >= 2 ? 'msgpack' : 'json');
      expect(await c.sendBatch(pings(d, 1, 2))).toEqual({ type: 'ack', seq: 2, binary: d >= 2 });
    }
    // Drivers 0..3 sit 0.01° of latitude (~1.1 km) apart: 500 m around driver 1
    // holds only it; 2 km holds 0, 1 and 2 (driver 1 first), not 3 (~2.2 km).
    const centre = ping(1, 2);
    for (const port of [a, b]) {
      expect(await nearbyIds(port, centre.lat, centre.lng, 500)).toEqual(['drv-1']);
      const wide = await nearbyIds(port, centre.lat, centre.lng, 2_000);
      expect(wide[0]).toBe('drv-1');
      expect(new Set(wide)).toEqual(new Set(['drv-0', 'drv-1', 'drv-2']));
    }
  });
});
