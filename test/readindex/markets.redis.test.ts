import { cellToLatLng, gridDisk } from 'h3-js';
import { Packr } from 'msgpackr';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '../../src/backend/backend.js';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { areaOfPoint } from '../../src/geo/market-area.js';
import type { TrackingServerFrame } from '../../src/protocol/wire-frames.js';
import { lastPositions } from '../../src/tracking/position-bus.js';
import { TrackSubscriber } from '../../src/tracking/track-subscriber.js';
import { BackendHosts, deleteKeysAt, uniquePrefix } from '../support/backends.js';
import { offset } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Position fan-out by area (issue 10): gateway A follows every area (its read
 * index holds every market, the default), gateway B only market X
 * (HEXFLEET_MARKETS). B's read index holds X's drivers and no others; a
 * nearby query in Y is answered by the backend; a customer on B tracking a
 * driver in Y gets its positions because B follows Y for as long as it
 * watches a driver there, and keeps getting them when the driver crosses
 * into a third area Z; a skipped message number resyncs B's read index when
 * it is in X's channel only.
 */
const X0 = { lat: 48.137, lng: 11.575 }; // Munich
const Y = { lat: 52.52, lng: 13.405 }; // Berlin
const ENV = { HEXFLEET_STALE_MS: '600000', HEXFLEET_READ_INDEX_MAX_LAG_MS: '5000' };
const hosts = new BackendHosts();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopAllGateways();
  for (const c of cleanups.splice(0)) await c();
});
afterAll(() => hosts.stop());

async function deployment(kind: BackendKind, bEnv: Record<string, string> = {}): Promise<{ a: TestGateway; b: TestGateway }> {
  const target = (await hosts.target(kind))!;
  const prefix = uniquePrefix();
  const a = await startTestGateway(kind, { target, prefix, env: ENV });
  const b = await startTestGateway(kind, { target, prefix, env: { ...ENV, HEXFLEET_MARKETS: `${X0.lat},${X0.lng}`, ...bEnv } });
  cleanups.push(() => deleteKeysAt(target, prefix));
  return { a, b };
}

/** Stores `n` drivers named `<name>-<i>` within ±1 km of `at` through `tg`'s store, and publishes them as its ingest does. */
async function drive(tg: TestGateway, name: string, at: { lat: number; lng: number }, n: number, seq: number): Promise<void> {
  const batches: DriverBatch[] = Array.from({ length: n }, (_, i) => {
    const p = offset(at, ((i * 37) % 40) * 50 - 1_000, ((i * 53) % 40) * 50 - 1_000);
    return { driverId: `${name}-${i}`, pings: [{ seq, ts: Date.now(), lat: p.lat, lng: p.lng, status: 'available' }] };
  });
  const { backend } = tg.gateway;
  backend.positions.publish(lastPositions(batches, await backend.drivers.applyBatches(batches, Date.now())));
}

/** Moves one driver to exactly `at` through `tg`'s store, published as its ingest does. */
async function move(tg: TestGateway, driverId: string, at: { lat: number; lng: number }, seq: number): Promise<void> {
  const batches: DriverBatch[] = [{ driverId, pings: [{ seq, ts: Date.now(), lat: at.lat, lng: at.lng, status: 'available' }] }];
  const { backend } = tg.gateway;
  backend.positions.publish(lastPositions(batches, await backend.drivers.applyBatches(batches, Date.now())));
}

/** The center of the area of `at` at the deployment's resolution. */
function centerOf(tg: TestGateway, at: { lat: number; lng: number }): { lat: number; lng: number } {
  const [lat, lng] = cellToLatLng(areaOfPoint(at.lat, at.lng, tg.config.redisAreaResolution));
  return { lat, lng };
}

/** The center of an area next to `at`'s (another area at the deployment's resolution). */
function nextArea(tg: TestGateway, at: { lat: number; lng: number }): { lat: number; lng: number } {
  const home = areaOfPoint(at.lat, at.lng, tg.config.redisAreaResolution);
  const [lat, lng] = cellToLatLng(gridDisk(home, 1).find((c) => c !== home)!);
  return { lat, lng };
}

/** A tracking connection on `tg`'s hub whose frames land in `frames`. */
function trackingSubscriber(tg: TestGateway): { sub: TrackSubscriber; frames: TrackingServerFrame[] } {
  const frames: TrackingServerFrame[] = [];
  const sub = new TrackSubscriber(
    { expiresAt: undefined },
    { send: (f) => void frames.push(f), bufferedAmount: () => 0, close() {} },
    { intervalMs: 0, softBytes: 1 << 30, hardBytes: 1 << 30 },
    tg.gateway.tracking.metrics,
  );
  tg.gateway.tracking.hub.attach(sub);
  return { sub, frames };
}

describe.each(['redis', 'cluster'] as const)('a gateway following one market on %s', (kind) => {
  it("holds that market's drivers only; a nearby query elsewhere is answered by the backend, exactly", async () => {
    const { a, b } = await deployment(kind);
    const index = b.gateway.readIndex!;
    await index.bootstrapped;
    // Clusters in tests use res-6 areas (~3 km across the inner circle): X's drivers are placed around its area's center.
    const X = centerOf(b, X0);
    expect(index.markets).toEqual([areaOfPoint(X.lat, X.lng, b.config.redisAreaResolution)]);
    await drive(a, 'x', X, 40, 1);
    await drive(a, 'y', Y, 40, 1);
    // A sentinel in X after Y's write: one publisher's messages reach a subscriber in order, whatever the channel,
    // so once B has it, anything of Y's that was coming to B has come.
    await move(a, 'x-sentinel', X, 1);
    await waitFor(() => index.peek('x-sentinel')?.seq === 1, { what: "B's read index to hold X's drivers" });
    expect(index.peek('x-39')?.seq).toBe(1);
    expect(index.peek('y-0')).toBeUndefined();
    expect(await b.metric('hexfleet_read_index_drivers')).toBe(41);
    expect(await b.metric('hexfleet_position_bus_positions_received_total')).toBe(41);

    const backendReads = await b.metric('hexfleet_read_index_reads_total', { source: 'backend' });
    const inY = await index.nearby(Y.lat, Y.lng, 3_000, { limit: 10 }, Date.now());
    expect(inY.map((d) => d.driverId)).toEqual((await b.gateway.store.nearby(Y.lat, Y.lng, 3_000, { limit: 10 }, Date.now())).map((d) => d.driverId));
    expect(inY).toHaveLength(10);
    expect(await b.metric('hexfleet_read_index_reads_total', { source: 'backend' })).toBe(backendReads + 1);

    const localReads = await b.metric('hexfleet_read_index_reads_total', { source: 'local' });
    const inX = await index.nearby(X.lat, X.lng, 1_000, { limit: 10 }, Date.now());
    expect(inX.map((d) => d.driverId)).toEqual((await b.gateway.store.nearby(X.lat, X.lng, 1_000, { limit: 10 }, Date.now())).map((d) => d.driverId));
    expect(await b.metric('hexfleet_read_index_reads_total', { source: 'local' })).toBe(localReads + 1);

    // A driver of X that drives off to Y leaves B's follower (A publishes it in X's channel as it leaves).
    await move(a, 'x-sentinel', Y, 2);
    await waitFor(() => index.peek('x-sentinel') === undefined, { what: 'x-sentinel to leave B\'s read index' });
  });

  it('a customer on B watching a driver in Y gets its positions, also once it crosses into a third area', async () => {
    const { a, b } = await deployment(kind);
    await b.gateway.readIndex!.bootstrapped;
    const Z = nextArea(b, Y);
    await move(a, 'courier', Y, 1);
    const followed = await b.metric('hexfleet_position_bus_areas_followed');
    expect(followed).toBe(1); // market X

    const { sub, frames } = trackingSubscriber(b);
    const orderId = `o-${uniquePrefix()}`;
    await b.gateway.tracking.hub.subscribe(sub, orderId);
    // Accepted on A: B hears it on the assignment bus, points the order at the courier and follows Y for it.
    a.gateway.backend.assignments.publish({ type: 'assignment.accepted', orderId, state: 'accepted', driverId: 'courier', attempt: 1, at: Date.now() });
    await waitFor(async () => (await b.metric('hexfleet_position_bus_areas_followed')) === 2, { what: 'B to follow Y' });

    const heard = (at: { lat: number; lng: number }): boolean => frames.some((f) => f.type === 'position' && Math.abs(f.lat - at.lat) < 1e-6 && Math.abs(f.lng - at.lng) < 1e-6);
    for (const [i, at] of [offset(Y, 300), offset(Y, 600), Z, offset(Z, 300)].entries()) {
      await move(a, 'courier', at, i + 2);
      await waitFor(() => heard(at), { what: `position ${i + 1} on B (${at.lat}, ${at.lng})` });
    }
    // It follows Z now, not Y any more.
    expect(await b.metric('hexfleet_position_bus_areas_followed')).toBe(2);

    b.gateway.tracking.hub.detach(sub);
    await waitFor(async () => (await b.metric('hexfleet_position_bus_areas_followed')) === 1, { what: 'B to drop the area' });
  });
});

describe('gaps per area on redis', () => {
  it("a skipped number in X's channel resyncs B's read index; one in a channel B follows for tracking does not", async () => {
    const { b } = await deployment('redis');
    const index = b.gateway.readIndex!;
    await index.bootstrapped;
    const res = b.config.redisAreaResolution;
    const X = X0;
    const [areaX, areaY] = [areaOfPoint(X.lat, X.lng, res), areaOfPoint(Y.lat, Y.lng, res)];
    const interest = b.gateway.backend.positions.follow(areaY); // as the hub does for a watched driver in Y
    await interest.ready;
    const resyncs = await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' });
    const packr = new Packr({ useRecords: false });
    const admin = (await hosts.target('redis'))!.admin();
    try {
      for (const [area, at] of [[areaY, Y], [areaX, X]] as const) {
        for (const n of [1, 2, 4]) {
          const message = packr.pack(['another-gateway', n, Date.now(), [[`gap-${area}-${n}`, at.lat, at.lng, Date.now(), null, null, 1, 1, 0]]]);
          await admin.publish(`${b.prefix}:v1:positions:${area}`, Buffer.concat([Buffer.from('z'.repeat(36)), message]));
        }
        if (area === areaY) {
          // Y's messages heard (as positions: the bus delivers them, the follower does not take them) before X's go out.
          await waitFor(async () => (await b.metric('hexfleet_position_bus_messages_received_total', { outcome: 'decoded' })) >= 3, { what: "Y's messages heard" });
          expect(await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' })).toBe(resyncs);
        }
      }
    } finally {
      admin.disconnect();
      interest.release();
    }
    await waitFor(() => index.peek(`gap-${areaX}-4`) !== undefined, { what: "X's messages heard" });
    await waitFor(async () => (await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' })) === resyncs + 1, { what: 'one resync, for X' });
    expect(index.peek(`gap-${areaY}-4`)).toBeUndefined();
  });

  it('with HEXFLEET_READ_INDEX=backend a gateway follows no area until its tracking needs one', async () => {
    const { b } = await deployment('redis', { HEXFLEET_READ_INDEX: 'backend' });
    expect(b.gateway.readIndex).toBeUndefined();
    expect(await b.metric('hexfleet_position_bus_areas_followed')).toBe(0);
    expect(await b.metric('hexfleet_position_bus_all_areas')).toBe(0);
  });
});
