import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { expandIncludes, scriptSource } from '../../src/backend/redis/load-scripts.js';
import { RedisDriverStore } from '../../src/backend/redis/redis-driver-store.js';
import { bucketOf, decodeEntry, decodeRecord, ENTRY, RECORD } from '../../src/backend/redis/redis-layout.js';
import { CONTRACT_TIMING } from '../geo/driver-store.contract.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * Ties the bytes the Lua scripts write to the layout table and the decoders:
 * a driver goes in through the real store, its record and cell entry come
 * back raw with HGET.
 */
let server: RedisServer;
let redis: Redis;
let store: RedisDriverStore;
const keyPrefix = `test-${randomUUID()}:v1:`;
const planner = new RingPlanner(9);
const NOW = 1_750_000_000_000;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
  store = new RedisDriverStore({ redis, keyPrefix, timing: CONTRACT_TIMING, planner });
});
afterAll(async () => {
  await store?.close();
  redis?.disconnect();
  await server?.stop();
});

async function rawRecord(driverId: string): Promise<Buffer> {
  const raw = await redis.hgetBuffer(`${keyPrefix}r:${bucketOf(driverId)}`, driverId);
  expect(raw, `record of ${driverId}`).not.toBeNull();
  return raw!;
}

describe('the stored bytes match the layout table', () => {
  const full: DriverBatch = {
    driverId: 'drv-layout-full',
    vehicle: 'bike',
    pings: [{ seq: 7, lat: -33.8688123, lng: 151.2092987, ts: NOW - 1234, acc: 4.25, spd: 8.5, hdg: 123.75, status: 'busy' }],
  };
  const bare: DriverBatch = {
    driverId: 'drv-layout-bare',
    pings: [{ seq: 1, lat: 52.52, lng: 13.405, ts: NOW }],
  };

  it('record: RECORD.size bytes that decodeRecord reads back as written', async () => {
    await store.applyBatches([full, bare]);
    const p = full.pings[0]!;
    const raw = await rawRecord(full.driverId);
    expect(raw.length).toBe(RECORD.size);
    expect(decodeRecord(full.driverId, raw)).toEqual({
      driverId: full.driverId, lat: p.lat, lng: p.lng, ts: p.ts, seq: p.seq, acc: p.acc, spd: p.spd, hdg: p.hdg,
      status: 'busy', vehicle: 'bike', indexed: true, cell: planner.cellOf(p.lat, p.lng),
    });

    const b = bare.pings[0]!;
    const bareRaw = await rawRecord(bare.driverId);
    expect(bareRaw.length).toBe(RECORD.size);
    expect(decodeRecord(bare.driverId, bareRaw)).toEqual({
      driverId: bare.driverId, lat: b.lat, lng: b.lng, ts: b.ts, seq: b.seq, acc: undefined, spd: undefined, hdg: undefined,
      status: 'unknown', vehicle: 'unknown', indexed: true, cell: planner.cellOf(b.lat, b.lng),
    });
  });

  it('cell entry: ENTRY.size bytes that decodeEntry reads back as written', async () => {
    await store.applyBatches([full]);
    const p = full.pings[0]!;
    const raw = await redis.hgetBuffer(`${keyPrefix}c:${planner.cellOf(p.lat, p.lng)}`, full.driverId);
    expect(raw).not.toBeNull();
    expect(raw!.length).toBe(ENTRY.size);
    expect(decodeEntry(full.driverId, raw!)).toEqual({
      driverId: full.driverId, lat: p.lat, lng: p.lng, ts: p.ts, status: 'busy', vehicle: 'bike',
    });
  });

  it("Redis's struct library sizes the include's formats as the table does", async () => {
    const lua = expandIncludes('--@include "includes/record-layout"\nreturn { struct.size(REC), struct.size(ENTRY) }', 'test.lua');
    expect(await redis.eval(lua, 0)).toEqual([RECORD.size, ENTRY.size]);
  });

  it('Redis runs the expanded script: it is known by the SHA1 of scriptSource()', async () => {
    await store.applyBatches([{ driverId: 'drv-layout-sha', pings: [{ seq: 1, lat: 1, lng: 1, ts: NOW }] }]);
    const sha = createHash('sha1').update(scriptSource('applyPings')).digest('hex');
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
  });
});
