import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HexfleetError } from '../../src/protocol/error-codes.js';
import type { DriverBatch, DriverStore, StoreTiming } from '../../src/geo/driver-store.js';
import { decodeEntry, STATUS_CODE } from '../../src/backend/redis/redis-layout.js';
import { openTestBackend } from '../support/backends.js';
import { redisIndexTamper } from '../support/index-tamper.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { CONTRACT_TIMING, driverStoreContract } from '../geo/driver-store.contract.js';
import { destination, seededRandom } from '../geo/geo-fixtures.js';

/** One redis-server for the whole file; every store lives under its own key prefix. */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

/** A store under a fresh key prefix; `redis` is its own connection, for looking at the keys. */
async function openStore(timing: StoreTiming, resolution: number): Promise<{ store: DriverStore; redis: Redis; prefix: string; cleanup: () => Promise<void> }> {
  const t = await openTestBackend('redis', { redisUrl: server.url, timing, h3Resolution: resolution });
  const { prefix } = t;
  const store = t.backend.drivers;
  const cleanup = (): Promise<void> => t.cleanup();
  return { store, redis: t.admin!, prefix, cleanup };
}

const NOW = 1_750_000_000_000;

driverStoreContract('RedisDriverStore', async (timing, resolution) => {
  const { store, redis, prefix, cleanup } = await openStore(timing, resolution);
  return { store, tamper: redisIndexTamper(redis, `${prefix}:v1:`, NOW), cleanup };
});

describe('RedisDriverStore on a real Redis', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  async function open(): Promise<{ store: DriverStore; redis: Redis; prefix: string }> {
    const opened = await openStore(CONTRACT_TIMING, 9);
    cleanups.push(opened.cleanup);
    return opened;
  }
  async function admin(): Promise<Redis> {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
    redis.on('error', () => {});
    cleanups.push(async () => void redis.disconnect());
    return redis;
  }

  async function expectUnavailable(call: Promise<unknown>): Promise<void> {
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(HexfleetError);
    expect((err as HexfleetError).code).toBe('store_unavailable');
  }

  it('fails fast with store_unavailable while Redis is down, and recovers with its data (and after SCRIPT FLUSH)', async () => {
    const { store } = await open();
    const redis = await admin();
    // With the default `everysec`, Redis may (rarely) answer before writing the
    // AOF; `always` writes it before every reply, so a SIGKILL loses nothing acked.
    await redis.config('SET', 'appendfsync', 'always');
    const at: [number, number] = [52.52, 13.405];
    await store.applyBatches([{ driverId: 'drv-1', pings: [{ seq: 1, lat: at[0], lng: at[1], ts: NOW, status: 'busy' }] }], NOW);
    redis.disconnect();

    await server.kill();
    let down = true;
    try {
      // Every call rejects while Redis is still down: a rejection here cannot be a
      // call that waited for Redis to come back.
      await expectUnavailable(store.applyBatches([{ driverId: 'drv-1', pings: [{ seq: 2, lat: 1, lng: 1, ts: NOW + 1 }] }], NOW));
      await expectUnavailable(store.get('drv-1', NOW));
      await expectUnavailable(store.check());
      await expectUnavailable(store.nearby(at[0], at[1], 100, { limit: 5 }, NOW));
      await expectUnavailable(store.sweep(NOW));
      await expectUnavailable(store.check());

      await server.launch();
      down = false;
    } finally {
      if (down) await server.launch();
    }
    await waitFor(() => store.check().then(() => true, () => false), { what: 'the store to reconnect' });
    expect(await store.get('drv-1', NOW)).toMatchObject({ seq: 1, lat: at[0], lng: at[1], status: 'busy', indexed: true });

    // The restarted Redis has no scripts; then SCRIPT FLUSH drops them again under a live connection.
    const exercise = async (seq: number): Promise<void> => {
      const outcome = await store.applyBatches([{ driverId: 'drv-1', pings: [{ seq, lat: at[0], lng: at[1], ts: NOW + seq }] }], NOW);
      expect(outcome).toMatchObject([{ applied: 1, duplicates: 0 }]);
      expect((await store.nearby(at[0], at[1], 100, { limit: 5 }, NOW)).map((d) => d.driverId)).toEqual(['drv-1']);
      expect(await store.sweep(NOW)).toEqual({ unindexed: 0, removed: 0 });
      expect(await store.get('drv-1', NOW)).toMatchObject({ seq, ts: NOW + seq, status: 'busy' });
    };
    await exercise(2);
    const redisAgain = await admin();
    await redisAgain.script('FLUSH');
    await exercise(3);
    await redisAgain.script('FLUSH');
    await exercise(4);
  });

  describe('repairIndex, Redis only', () => {
    it('rewrites an entry that holds something else than its record', async () => {
      const { store, redis, prefix } = await open();
      await store.applyBatches([{ driverId: 'drv-1', vehicle: 'bike', pings: [{ seq: 1, lat: 52.52, lng: 13.405, ts: NOW, status: 'available' }] }], NOW);
      const { cell } = (await store.get('drv-1', NOW))!;
      const key = `${prefix}:v1:c:${cell}`;
      const good = (await redis.hgetBuffer(key, 'drv-1'))!;
      const bad = Buffer.from(good);
      bad.writeUInt8(STATUS_CODE.busy, 16);
      await redis.hset(key, 'drv-1', bad);
      expect(await store.nearby(52.52, 13.405, 10, { limit: 5, status: 'available' }, NOW)).toEqual([]);

      expect(await store.repairIndex(NOW)).toEqual({ found: 1, fixed: 1 });
      expect((await redis.hgetBuffer(key, 'drv-1'))!.equals(good)).toBe(true);
      expect((await store.nearby(52.52, 13.405, 10, { limit: 5, status: 'available' }, NOW)).map((d) => d.driverId)).toEqual(['drv-1']);
      expect(await store.repairIndex(NOW)).toEqual({ found: 0, fixed: 0 });
    });

    it('reports an entry whose id is not ASCII but leaves it (its record bucket cannot be computed in Lua)', async () => {
      const { store, redis, prefix } = await open();
      // The driver socket accepts only printable ASCII ids; the store API does not check.
      await store.applyBatches([{ driverId: 'fahrer-ö', pings: [{ seq: 1, lat: 52.52, lng: 13.405, ts: NOW, status: 'available' }] }], NOW);
      const { cell } = (await store.get('fahrer-ö', NOW))!;
      for (let run = 0; run < 2; run++) expect(await store.repairIndex(NOW)).toEqual({ found: 1, fixed: 0 });
      expect(await redis.hexists(`${prefix}:v1:c:${cell}`, 'fahrer-ö')).toBe(1);
    });
  });

  describe('a batch is atomic: a driver is never in two cells', () => {
    /** Every c:* hash at once (one Lua call, so one consistent snapshot): driverId → cells holding it. */
    async function cellsOf(redis: Redis, prefix: string): Promise<Map<string, string[]>> {
      const lua = `
        local out = {}
        for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
          out[#out + 1] = key
          out[#out + 1] = redis.call('HGETALL', key)
        end
        return out`;
      const reply = (await redis.eval(lua, 0, `${prefix}:v1:c:*`)) as (string | string[])[];
      const where = new Map<string, string[]>();
      for (let i = 0; i < reply.length; i += 2) {
        const cell = (reply[i] as string).slice(`${prefix}:v1:c:`.length);
        const fields = reply[i + 1] as string[];
        for (let j = 0; j < fields.length; j += 2) where.set(fields[j]!, [...(where.get(fields[j]!) ?? []), cell]);
      }
      return where;
    }
    /** The same by SCAN over c:* (not a snapshot: only meaningful while nothing writes). */
    async function scannedCellsOf(redis: Redis, prefix: string): Promise<Map<string, { cell: string; status: string }[]>> {
      const where = new Map<string, { cell: string; status: string }[]>();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:v1:c:*`, 'COUNT', 1000);
        for (const key of keys) {
          const cell = key.slice(`${prefix}:v1:c:`.length);
          const entries = await redis.hgetallBuffer(key);
          for (const [id, raw] of Object.entries(entries)) {
            where.set(id, [...(where.get(id) ?? []), { cell, status: decodeEntry(id, raw).status }]);
          }
        }
        cursor = next;
      } while (cursor !== '0');
      return where;
    }

    const DRIVERS = 40;
    const ids = Array.from({ length: DRIVERS }, (_, i) => `drv-${String(i).padStart(3, '0')}`);
    /**
     * A round of batches moving every driver ~0.2–3 km in random directions,
     * some with pings out of ts order, equal seqs, or status changes only.
     */
    function round(rand: () => number, n: number, seqs: Map<string, number>, pos: Map<string, [number, number]>): DriverBatch[] {
      return ids.map((driverId) => {
        const pings = [];
        let seq = seqs.get(driverId) ?? 0;
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
          if (rand() > 0.2) seq++;
          const [lat, lng] = pos.get(driverId) ?? [52.52, 13.405];
          const next = destination(lat, lng, rand() * 360, 200 + rand() * 2_800);
          pos.set(driverId, next);
          const ts = NOW + n * 1_000 + Math.floor(rand() * 900) - (rand() < 0.3 ? 5_000 : 0);
          const status = (['available', 'busy', 'offline', undefined] as const)[Math.floor(rand() * 4)];
          pings.push(status ? { seq, lat: next[0], lng: next[1], ts, status } : { seq, lat: next[0], lng: next[1], ts });
        }
        seqs.set(driverId, seq);
        return { driverId, pings };
      });
    }

    it('after every round, each driver is in exactly the cell of its record (SCAN over c:*)', async () => {
      const { store, redis, prefix } = await open();
      const rand = seededRandom(99);
      const seqs = new Map<string, number>();
      const pos = new Map<string, [number, number]>();
      for (let n = 0; n < 15; n++) {
        await store.applyBatches(round(rand, n, seqs, pos), NOW);
        const where = await scannedCellsOf(redis, prefix);
        expect([...where.keys()].sort(), `round ${n}`).toEqual(ids);
        for (const id of ids) {
          const rec = await store.get(id, NOW);
          expect(where.get(id), `round ${n} ${id}`).toEqual([{ cell: rec!.cell, status: rec!.status }]);
        }
      }
    });

    it('a reader never sees a driver in two cells or none while batches are applied', async () => {
      const { store, prefix } = await open();
      const reader = await admin();
      const rand = seededRandom(7);
      const seqs = new Map<string, number>();
      const pos = new Map<string, [number, number]>();
      await store.applyBatches(round(rand, 0, seqs, pos), NOW);
      for (let n = 1; n < 10; n++) {
        // Writes and snapshots race; every snapshot must hold each driver exactly once.
        const writes = Promise.all([1, 2, 3].map((k) => store.applyBatches(round(rand, n * 3 + k, seqs, pos), NOW)));
        const snapshots = Promise.all([1, 2, 3, 4].map(() => cellsOf(reader, prefix)));
        const [, seen] = await Promise.all([writes, snapshots]);
        for (const where of seen) {
          expect([...where.keys()].sort(), `round ${n}`).toEqual(ids);
          for (const id of ids) expect(where.get(id), `round ${n} ${id}`).toHaveLength(1);
        }
      }
    });
  });
});
