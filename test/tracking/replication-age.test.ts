import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyOutcome, DriverBatch, DriverRecord } from '../../src/geo/driver-store.js';
import type { OrderDoc } from '../../src/orders/order.js';
import { type DriverPosition, lastPositions } from '../../src/tracking/position-bus.js';
import { ReplicatedOrigins } from '../../src/tracking/replicated-origins.js';
import { ping, startTestGateway, stopAllGateways, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { frameAfter, openTrack, type TrackClient, type TrackFrame } from './track-client.js';

/**
 * The origin of a replicated position (issue 12): the replication applier's
 * writes publish positions with their region and replication age, and the
 * gateway's ReplicatedOrigins table answers for the stored position with
 * that fix time only; a gateway shows both on tracking frames, last-known
 * and nearby. The two-region run is test/tracking/replication-age.kafka.test.ts.
 */

function record(driverId: string, seq: number, ts: number): DriverRecord {
  return { driverId, lat: 52.5, lng: 13.4, ts, seq, status: 'available', vehicle: 'unknown', cell: 'x', indexed: true };
}

describe('lastPositions of a replicated write', () => {
  const batch = (driverId: string, ...pings: [seq: number, ts: number][]): DriverBatch =>
    ({ driverId, pings: pings.map(([seq, ts]) => ({ seq, ts, lat: 52.5, lng: 13.4 })) });

  it('stamps region and age (applied − accepted, per batch) on the positions its own pings put there', () => {
    const batches = [batch('d1', [1, 1_000], [2, 2_000]), batch('d2', [5, 3_000])];
    const outcomes: ApplyOutcome[] = [
      { applied: 2, duplicates: 0, record: record('d1', 2, 2_000) },
      { applied: 1, duplicates: 0, record: record('d2', 5, 3_000) },
    ];
    const out = lastPositions(batches, outcomes, { region: 'a', acceptedAt: [10_000, 10_400], appliedAt: 10_500 });
    expect(out.map((p) => [p.driverId, p.region, p.replicationAgeMs])).toEqual([['d1', 'a', 500], ['d2', 'a', 100]]);
  });

  it('leaves a stored position the write did not move (a newer local fix) without an origin, and never a negative age', () => {
    const batches = [batch('d1', [7, 1_000]), batch('d2', [3, 5_000])];
    const outcomes: ApplyOutcome[] = [
      // Seq 7 applied, but the record keeps the local fix at ts 9_000: not this region's doing.
      { applied: 1, duplicates: 0, record: record('d1', 7, 9_000) },
      { applied: 1, duplicates: 0, record: record('d2', 3, 5_000) },
    ];
    const out = lastPositions(batches, outcomes, { region: 'a', acceptedAt: [10_000, 20_000], appliedAt: 15_000 });
    expect(out[0]!.region).toBeUndefined();
    expect(out[0]!.replicationAgeMs).toBeUndefined();
    expect(out[1]).toMatchObject({ region: 'a', replicationAgeMs: 0 });
  });

  it('local writes (no third argument) carry no origin', () => {
    const out = lastPositions([batch('d1', [1, 1_000])], [{ applied: 1, duplicates: 0, record: record('d1', 1, 1_000) }]);
    expect(out[0]).not.toHaveProperty('region');
    expect(out[0]).not.toHaveProperty('replicationAgeMs');
  });
});

describe('ReplicatedOrigins', () => {
  const pos = (driverId: string, ts: number, region?: string, replicationAgeMs?: number): DriverPosition =>
    ({ driverId, lat: 52.5, lng: 13.4, ts, ...(region === undefined ? {} : { region, replicationAgeMs }) });

  it('answers for the replicated fix only; a local fix with another ts forgets it, one with the same ts keeps it', () => {
    const o = new ReplicatedOrigins();
    o.observe([pos('d1', 1_000, 'a', 40)]);
    expect(o.originOf('d1', 1_000)).toEqual({ region: 'a', replicationAgeMs: 40 });
    expect(o.originOf('d1', 999)).toBeUndefined();
    expect(o.originOf('d2', 1_000)).toBeUndefined();
    // A local write that left the replicated position in place (publishes the stored record: same ts).
    o.observe([pos('d1', 1_000)]);
    expect(o.originOf('d1', 1_000)).toEqual({ region: 'a', replicationAgeMs: 40 });
    // A local ping moved the driver.
    o.observe([pos('d1', 2_000)]);
    expect(o.originOf('d1', 1_000)).toBeUndefined();
    expect(o.size).toBe(0);
  });

  it('latest wins: an older replicated position never replaces a newer one', () => {
    const o = new ReplicatedOrigins();
    o.observe([pos('d1', 2_000, 'b', 10)]);
    o.observe([pos('d1', 1_000, 'a', 20)]);
    expect(o.originOf('d1', 2_000)).toEqual({ region: 'b', replicationAgeMs: 10 });
    o.observe([pos('d1', 3_000, 'a', 30)]);
    expect(o.originOf('d1', 3_000)).toEqual({ region: 'a', replicationAgeMs: 30 });
  });

  it('annotate: a new object with region and replicationAgeMs for a replicated position, the same object otherwise', () => {
    const o = new ReplicatedOrigins();
    o.observe([pos('d1', 1_000, 'a', 40)]);
    const nearby = { driverId: 'd1', ts: 1_000, ageMs: 5, stale: false };
    expect(o.annotate(nearby)).toEqual({ ...nearby, region: 'a', replicationAgeMs: 40 });
    expect(nearby).not.toHaveProperty('region');
    const local = { driverId: 'd2', ts: 1_000 };
    expect(o.annotate(local)).toBe(local);
  });

  it('holds at most `max` drivers, forgetting the one that moved least recently', () => {
    const o = new ReplicatedOrigins(2);
    o.observe([pos('d1', 1, 'a', 1), pos('d2', 1, 'a', 1)]);
    o.observe([pos('d1', 2, 'a', 1)]);
    o.observe([pos('d3', 1, 'a', 1)]);
    expect(o.size).toBe(2);
    expect(o.originOf('d2', 1)).toBeUndefined();
    expect(o.originOf('d1', 2)).toBeDefined();
    expect(o.originOf('d3', 1)).toBeDefined();
  });
});

describe('a gateway shows what its replication applier applied (memory engine, the applier\'s store write and publication made by hand)', () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway('memory');
  });
  afterAll(() => stopAllGateways());

  /** What ReplicationApplier.applyChunk does with a batch of region `region` appended there at `acceptedAt`. */
  async function replicate(batch: DriverBatch, region: string, acceptedAt: number): Promise<void> {
    const outcomes = await g.gateway.backend.drivers.applyBatches([batch], Date.now());
    g.gateway.backend.positions.publish(lastPositions([batch], outcomes, { region, acceptedAt: [acceptedAt], appliedAt: Date.now() }));
  }

  async function local(driverId: string, seq: number, lng: number): Promise<void> {
    const client = await g.connectDriver(driverId);
    expect((await client.sendBatch([ping(seq, { lng, status: 'available' })])).type).toBe('ack');
    await client.terminate();
  }

  it('tracking frames, last-known and nearby carry region and replicationAgeMs for the replicated fix, none once a local ping moves the driver', async () => {
    const driverId = uniqueDriverId('repl');
    const orderId = `o-${driverId}`;
    const now = Date.now();
    const store = g.gateway.backend.orders;
    const doc: OrderDoc = {
      orderId, state: 'searching', request: { orderId, pickup: { lat: 52.52, lng: 13.405 }, radiusM: 2000, mode: 'immediate' },
      requestHash: 'h', attempt: 0, tried: [], history: [], leaseUntil: now + 60_000, createdAt: now, updatedAt: now, version: 0,
    };
    expect((await store.commit(doc, 0, { deadline: now + 60_000 }, now)).ok).toBe(true);
    expect((await store.commit({ ...doc, state: 'accepted', driverId, attempt: 1, leaseUntil: undefined, version: 1 }, 1, { deadline: null }, now)).ok).toBe(true);

    await replicate({ driverId, pings: [{ seq: 1, ts: now - 500, lat: 52.52, lng: 13.405, status: 'available' }] }, 'eu', now - 200);
    const customer = await openTrack(g.port, await g.tokens.sign({ role: 'customer', sub: 'c', orders: [orderId] }));
    // The first position comes from the store, its origin from the table.
    const first = await subscribeAndPosition(customer, orderId);
    expect(first).toMatchObject({ driverId, region: 'eu' });
    expect(first.replicationAgeMs).toBeGreaterThanOrEqual(200);
    const view = (await g.driver(driverId)).json as Record<string, unknown>;
    expect(view).toMatchObject({ driverId, region: 'eu', replicationAgeMs: first.replicationAgeMs });
    const near = async () => ((await g.get('/v1/drivers/nearby?lat=52.52&lng=13.405&radius=500', await g.serviceToken())).json as { drivers: Record<string, unknown>[] })
      .drivers.find((d) => d.driverId === driverId);
    expect(await near()).toMatchObject({ region: 'eu', replicationAgeMs: first.replicationAgeMs });

    // A newer replicated fix comes as a frame with its own age.
    const from = customer.replies.length;
    await replicate({ driverId, pings: [{ seq: 2, ts: Date.now(), lat: 52.52, lng: 13.406 }] }, 'eu', Date.now() - 30);
    const second = await frameAfter(customer, from, (f) => f.type === 'position' && f.lng === 13.406, 'the second replicated position');
    expect(second).toMatchObject({ region: 'eu' });

    // A local ping moves the driver: nothing says eu any more.
    const after = customer.replies.length;
    await local(driverId, 3, 13.407);
    const third = await frameAfter(customer, after, (f) => f.type === 'position' && f.lng === 13.407, 'the local position');
    expect(third).not.toHaveProperty('region');
    expect(third).not.toHaveProperty('replicationAgeMs');
    expect((await g.driver(driverId)).json).not.toHaveProperty('region');
    expect(await near()).not.toHaveProperty('region');
    await customer.terminate();
  });
});

async function subscribeAndPosition(c: TrackClient, orderId: string): Promise<TrackFrame> {
  const from = c.replies.length;
  c.send({ type: 'subscribe', orderId });
  return frameAfter(c, from, (f) => f.type === 'position' && f.orderId === orderId, `the first position of ${orderId}`);
}
