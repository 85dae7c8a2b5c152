import { cellToParent, latLngToCell } from 'h3-js';
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { ClusterLayout } from '../../src/backend/redis/cluster/cluster-layout.js';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { clusterTarget, TEST_AREA_RESOLUTION } from '../support/backends.js';
import { destination } from '../geo/geo-fixtures.js';
import { startTestGateway, type TestGateway } from '../support/gateway-harness.js';

/**
 * What the reconciler finishes or undoes on Redis Cluster, where a driver's
 * move between areas and a reservation are several steps on several shards:
 * each half-done state a crash can leave is made by hand (as the crash
 * would leave it) and `Reconciler.run` (what `hexfleet reconcile` and the
 * gateways' timer run) must repair it, with the driver readable, in exactly
 * one cell, and findable by nearby() only where it is.
 */
const A = { lat: 52.52, lng: 13.405 };
/** 30 km east: another resolution-6 area. */
const [BLAT, BLNG] = destination(A.lat, A.lng, 90, 30_000);
const B = { lat: Math.round(BLAT * 1e7) / 1e7, lng: Math.round(BLNG * 1e7) / 1e7 };
const NOW = Date.now();

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function gateway(): Promise<{ tg: TestGateway; admin: Cluster; layout: ClusterLayout }> {
  const target = clusterTarget(cluster);
  const tg = await startTestGateway('cluster', { target, env: { HEXFLEET_RECONCILE_INTERVAL_MS: '0', HEXFLEET_STALE_MS: '600000' } });
  closers.push(() => tg.stop());
  const admin = target.admin() as Cluster;
  closers.push(async () => admin.disconnect());
  return { tg, admin, layout: new ClusterLayout(`${tg.prefix}:v1:`, TEST_AREA_RESOLUTION) };
}

function batch(driverId: string, seq: number, at: { lat: number; lng: number }): DriverBatch {
  return { driverId, pings: [{ seq, ts: NOW + seq, lat: at.lat, lng: at.lng, status: 'available' }] };
}

function areaOf(at: { lat: number; lng: number }): string {
  return cellToParent(latLngToCell(at.lat, at.lng, 9), TEST_AREA_RESOLUTION);
}

/** Every record of the driver, area by area, and every cell entry it has. */
async function traces(admin: Cluster, layout: ClusterLayout, driverId: string): Promise<{ records: string[]; entries: string[] }> {
  const records: string[] = [];
  const entries: string[] = [];
  for (const area of [areaOf(A), areaOf(B)]) {
    if (await admin.hexists(layout.areaPrefix(area) + 'r:' + layout.areaBucket(driverId), driverId)) records.push(area);
    for (const at of [A, B]) {
      const cell = latLngToCell(at.lat, at.lng, 9);
      if (layout.areaOf(cell) === area && (await admin.hexists(layout.areaPrefix(area) + 'c:' + cell, driverId))) entries.push(cell);
    }
  }
  return { records, entries };
}

async function expectWhole(tg: TestGateway, admin: Cluster, layout: ClusterLayout, driverId: string): Promise<void> {
  const drivers = tg.gateway.backend.drivers;
  expect(await drivers.get(driverId, NOW + 100)).toMatchObject({ seq: 2, lat: B.lat, lng: B.lng });
  expect(await traces(admin, layout, driverId)).toEqual({ records: [areaOf(B)], entries: [latLngToCell(B.lat, B.lng, 9)] });
  expect((await drivers.nearby(A.lat, A.lng, 1000, { limit: 10 }, NOW + 100)).map((d) => d.driverId)).toEqual([]);
  expect((await drivers.nearby(B.lat, B.lng, 1000, { limit: 10 }, NOW + 100)).map((d) => d.driverId)).toEqual([driverId]);
}

describe('reconciling Redis Cluster', () => {
  it('the areas of the two points are different areas', () => {
    expect(areaOf(A)).not.toBe(areaOf(B));
  });

  it('finishes a move that crashed after the directory step: the old area keeps a stale record and entry', async () => {
    const { tg, admin, layout } = await gateway();
    const drivers = tg.gateway.backend.drivers;
    await drivers.applyBatches([batch('mv-1', 1, A)], NOW);
    const oldKey = layout.areaPrefix(areaOf(A)) + 'r:' + layout.areaBucket('mv-1');
    const oldCell = layout.areaPrefix(areaOf(A)) + 'c:' + latLngToCell(A.lat, A.lng, 9);
    const oldRecord = (await admin.hgetBuffer(oldKey, 'mv-1'))!;
    const oldEntry = (await admin.hgetBuffer(oldCell, 'mv-1'))!;
    await drivers.applyBatches([batch('mv-1', 2, B)], NOW);
    // The crash: leaveArea never ran.
    await admin.hset(oldKey, 'mv-1', oldRecord);
    await admin.hset(oldCell, 'mv-1', oldEntry);

    const report = await tg.gateway.dispatch.reconciler.run(NOW + 100);
    expect(report.cellIndex.found).toBeGreaterThanOrEqual(1);
    await expectWhole(tg, admin, layout, 'mv-1');
    expect((await tg.gateway.dispatch.reconciler.run(NOW + 100)).cellIndex).toEqual({ found: 0, fixed: 0 });
  });

  it('finishes a move that crashed before the directory step: the directory still names the old area', async () => {
    const { tg, admin, layout } = await gateway();
    const drivers = tg.gateway.backend.drivers;
    await drivers.applyBatches([batch('mv-2', 1, A)], NOW);
    const oldKey = layout.areaPrefix(areaOf(A)) + 'r:' + layout.areaBucket('mv-2');
    const oldCell = layout.areaPrefix(areaOf(A)) + 'c:' + latLngToCell(A.lat, A.lng, 9);
    const oldRecord = (await admin.hgetBuffer(oldKey, 'mv-2'))!;
    const oldEntry = (await admin.hgetBuffer(oldCell, 'mv-2'))!;
    await drivers.applyBatches([batch('mv-2', 2, B)], NOW);
    // The crash: only the new area's record was written.
    await admin.hset(layout.homeKey('mv-2'), 'mv-2', `${areaOf(A)} 1`);
    await admin.hset(oldKey, 'mv-2', oldRecord);
    await admin.hset(oldCell, 'mv-2', oldEntry);

    // Not a snapshot: a move finished in one run may leave the old area's copy to the next.
    let found = 0;
    for (let run = 0; run < 3; run++) found += (await tg.gateway.dispatch.reconciler.run(NOW + 100)).cellIndex.found;
    expect(found).toBeGreaterThanOrEqual(1);
    await expectWhole(tg, admin, layout, 'mv-2');
  });

  it('a later ping of a driver caught mid-move still lands once, where the ping is', async () => {
    const { tg, admin, layout } = await gateway();
    const drivers = tg.gateway.backend.drivers;
    await drivers.applyBatches([batch('mv-3', 1, A)], NOW);
    await admin.hset(layout.homeKey('mv-3'), 'mv-3', `${areaOf(A)} 1`);
    const outcome = await drivers.applyBatches([batch('mv-3', 2, B)], NOW);
    expect(outcome).toMatchObject([{ applied: 1, duplicates: 0 }]);
    await expectWhole(tg, admin, layout, 'mv-3');
  });

  it('releases a reservation whose order commit never came (the first of two steps), after the grace, not before', async () => {
    const { tg, admin, layout } = await gateway();
    const orders = tg.gateway.dispatch.orders;
    await admin.set(layout.reservationKey('rs-old'), `o-never ${41} ${Date.now() - 60_000}`, 'PX', 600_000);
    await admin.set(layout.reservationKey('rs-new'), `o-inflight ${42} ${Date.now()}`, 'PX', 600_000);
    const report = await tg.gateway.dispatch.reconciler.run(Date.now());
    expect(report.reservations).toEqual({ found: 1, fixed: 1 });
    expect(await orders.reservationOf('rs-old')).toBeNull();
    expect(await orders.reservationOf('rs-new')).toMatchObject({ orderId: 'o-inflight', fence: 42 });
  });
});
