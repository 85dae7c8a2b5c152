import { Packr } from 'msgpackr';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '../../src/backend/backend.js';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { areaOfPoint, DEFAULT_AREA_RESOLUTION } from '../../src/geo/market-area.js';
import { lastPositions } from '../../src/tracking/position-bus.js';
import { BackendHosts, deleteKeysAt, uniquePrefix } from '../support/backends.js';
import { offset } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { seededRandom } from '../geo/geo-fixtures.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The gateway-local read index (issue 10) on real Redis engines: two gateways
 * of one deployment share a backend; what gateway A stores, gateway B's
 * follower serves to nearby(), exactly as the backend would answer, after a
 * bootstrap, through a lost subscription, and never while it lags.
 */
const SITE = { lat: 48.137, lng: 11.575 };
/** The site's area: the position bus's channel of its drivers. */
const SITE_AREA = areaOfPoint(SITE.lat, SITE.lng, DEFAULT_AREA_RESOLUTION);
const ENV = { HEXFLEET_STALE_MS: '600000', HEXFLEET_READ_INDEX_MAX_LAG_MS: '1000' };
const hosts = new BackendHosts();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopAllGateways();
  for (const c of cleanups.splice(0)) await c();
});
afterAll(() => hosts.stop());

async function pair(kind: BackendKind): Promise<{ a: TestGateway; b: TestGateway }> {
  const target = (await hosts.target(kind))!;
  const prefix = uniquePrefix();
  const a = await startTestGateway(kind, { target, prefix, env: ENV });
  const b = await startTestGateway(kind, { target, prefix, env: ENV });
  // Stopped by stopAllGateways; the shared prefix's keys go last.
  cleanups.push(() => deleteKeysAt(target, prefix));
  return { a, b };
}

/** `n` drivers scattered over ±4 km of the site, written through `tg`'s store as its ingest would (outcomes published). */
async function drive(tg: TestGateway, n: number, seq: number, seed: number): Promise<void> {
  const rand = seededRandom(seed);
  const batches: DriverBatch[] = Array.from({ length: n }, (_, i) => {
    const at = offset(SITE, (rand() - 0.5) * 8_000, (rand() - 0.5) * 8_000);
    return { driverId: `ri-${i}`, pings: [{ seq, ts: Date.now(), lat: at.lat, lng: at.lng, status: i % 5 === 0 ? 'busy' : 'available' }] };
  });
  const { backend } = tg.gateway;
  for (let i = 0; i < batches.length; i += 200) {
    const chunk = batches.slice(i, i + 200);
    backend.positions.publish(lastPositions(chunk, await backend.drivers.applyBatches(chunk, Date.now())));
  }
}

/**
 * Every one of the first `n` drivers is held at `seq` or later: a write's positions go out one message per area, so the
 * last driver written is not the last one heard.
 */
function caughtUp(tg: TestGateway, n: number, seq: number): boolean {
  for (let i = 0; i < n; i++) if ((tg.gateway.readIndex!.peek(`ri-${i}`)?.seq ?? -1) < seq) return false;
  return true;
}

/** B's follower answers as the backend does, for `queries` random points around the site. */
async function expectSameAsBackend(b: TestGateway, queries: number): Promise<void> {
  const rand = seededRandom(7);
  const index = b.gateway.readIndex!;
  for (let q = 0; q < queries; q++) {
    const at = offset(SITE, (rand() - 0.5) * 8_000, (rand() - 0.5) * 8_000);
    const options = q % 2 ? { limit: 10, status: 'available' as const } : { limit: 25 };
    const now = Date.now();
    const local = await index.nearby(at.lat, at.lng, 2_000, options, now);
    const backend = await b.gateway.store.nearby(at.lat, at.lng, 2_000, options, now);
    expect(local.map((d) => [d.driverId, d.distanceM, d.status]), `query ${q}`).toEqual(backend.map((d) => [d.driverId, d.distanceM, d.status]));
  }
}

describe.each(['redis', 'cluster'] as const)('the read index on %s', (kind) => {
  it('bootstraps from the backend, then follows what another gateway stores; answers exactly as the backend', async () => {
    const { a, b } = await pair(kind);
    await drive(a, 300, 1, 1);
    // C starts after the first writes: its bootstrap scan brings them.
    const c = await startTestGateway(kind, { target: (await hosts.target(kind))!, prefix: b.prefix!, env: ENV });
    await c.gateway.readIndex!.bootstrapped;
    await waitFor(() => c.gateway.readIndex!.peek('ri-299')?.seq === 1, { what: 'the bootstrap scan' }).catch((err: Error) => {
      throw new Error(`${err.message}: the follower holds ri-299 as ${JSON.stringify(c.gateway.readIndex!.peek('ri-299'))}`);
    });
    await drive(a, 300, 2, 2); // everyone moves
    for (const tg of [b, c]) {
      await waitFor(() => tg.gateway.readIndex!.servesLocally() && caughtUp(tg, 300, 2), { what: 'the follower caught up' });
      await expectSameAsBackend(tg, 40);
    }
    expect(await b.metric('hexfleet_read_index_local')).toBe(1);
    expect(await b.metric('hexfleet_read_index_reads_total', { source: 'local' })).toBeGreaterThan(0);
  });

  it('GET /v1/drivers/nearby on the other gateway is answered by its follower', async () => {
    const { a, b } = await pair(kind);
    await drive(a, 50, 1, 3);
    await waitFor(() => b.gateway.readIndex!.servesLocally() && caughtUp(b, 50, 1), { what: 'the follower caught up' });
    const before = await b.metric('hexfleet_read_index_reads_total', { source: 'local' });
    const r = await b.get(`/v1/drivers/nearby?lat=${SITE.lat}&lng=${SITE.lng}&radius=5000&limit=5`, await b.serviceToken());
    expect(r.status).toBe(200);
    const backend = await b.gateway.store.nearby(SITE.lat, SITE.lng, 5000, { limit: 5 }, Date.now());
    expect((r.json as { drivers: { driverId: string }[] }).drivers.map((d) => d.driverId)).toEqual(backend.map((d) => d.driverId));
    expect(await b.metric('hexfleet_read_index_reads_total', { source: 'local' })).toBe(before + 1);
  });
});

describe('the read index on redis, when it misses or lags', () => {
  it('a lost subscription shows as a gap and the follower resyncs from the backend', async () => {
    const { a, b } = await pair('redis');
    await b.gateway.readIndex!.bootstrapped;
    await drive(a, 100, 1, 4);
    await waitFor(() => b.gateway.readIndex!.servesLocally() && b.gateway.readIndex!.peek('ri-99')?.seq === 1, { what: 'the follower caught up' });
    const resyncs = await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' });
    // Every subscriber connection dropped (B's too); ioredis resubscribes, but what A publishes meanwhile is lost.
    const admin = (await hosts.target('redis'))!.admin();
    try {
      expect(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')), 'subscriber connections killed').toBeGreaterThanOrEqual(2);
    } finally {
      admin.disconnect();
    }
    await drive(a, 100, 2, 5);
    // Until B hears A again it cannot know; A keeps publishing, and the next message it hears shows the gap.
    await waitFor(async () => {
      await drive(a, 1, 3, 6);
      return (await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' })) > resyncs;
    }, { what: 'a resync for the gap', intervalMs: 200 });
    await waitFor(() => b.gateway.readIndex!.servesLocally() && caughtUp(b, 100, 2), { what: 'the resync' });
    await expectSameAsBackend(b, 20);
  });

  it("a skipped number in a publisher's messages is a gap: the follower resyncs", async () => {
    const { b } = await pair('redis');
    await b.gateway.readIndex!.bootstrapped;
    const resyncs = await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' });
    const packr = new Packr({ useRecords: false });
    const admin = (await hosts.target('redis'))!.admin();
    try {
      for (const n of [1, 2, 4]) {
        const message = packr.pack(['another-gateway', n, Date.now(), [[`ri-n${n}`, SITE.lat, SITE.lng, Date.now(), null, null, 1, 1, 0]]]);
        await admin.publish(`${b.prefix}:v1:positions:${SITE_AREA}`, Buffer.concat([Buffer.from('y'.repeat(36)), message]));
      }
    } finally {
      admin.disconnect();
    }
    await waitFor(() => b.gateway.readIndex!.peek('ri-n4') !== undefined, { what: 'the messages heard' });
    await waitFor(async () => (await b.metric('hexfleet_read_index_resyncs_total', { reason: 'gap' })) === resyncs + 1, { what: 'one resync, for 3' });
  });

  it('while positions arrive later than HEXFLEET_READ_INDEX_MAX_LAG_MS after they were stored, reads go to the backend', async () => {
    const { a, b } = await pair('redis');
    await drive(a, 20, 1, 7);
    await waitFor(() => b.gateway.readIndex!.servesLocally(), { what: 'serving locally' });
    // A position published 5 s ago (a gateway whose messages queue up): over the bound.
    const packr = new Packr({ useRecords: false });
    const message = packr.pack(['lagging-gateway', 1, Date.now() - 5_000, [['ri-lag', SITE.lat, SITE.lng, Date.now(), null, null, 1, 1, 0]]]);
    const admin = (await hosts.target('redis'))!.admin();
    try {
      await admin.publish(`${b.prefix}:v1:positions:${SITE_AREA}`, Buffer.concat([Buffer.from('x'.repeat(36)), message]));
    } finally {
      admin.disconnect();
    }
    await waitFor(() => !b.gateway.readIndex!.servesLocally(), { what: 'the lag seen' });
    const before = await b.metric('hexfleet_read_index_reads_total', { source: 'backend' });
    const got = await b.gateway.readIndex!.nearby(SITE.lat, SITE.lng, 5_000, { limit: 5 }, Date.now());
    expect(got.length).toBeGreaterThan(0);
    expect(await b.metric('hexfleet_read_index_reads_total', { source: 'backend' })).toBe(before + 1);
    expect(await b.metric('hexfleet_read_index_local')).toBe(0);
    // Two seconds of timely positions later, it serves locally again.
    await waitFor(async () => {
      await drive(a, 1, Date.now(), 8);
      return b.gateway.readIndex!.servesLocally();
    }, { what: 'local again', intervalMs: 250, timeoutMs: 10_000 });
  });
});
