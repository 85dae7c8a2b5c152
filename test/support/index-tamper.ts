import { cellToLatLng } from 'h3-js';
import type { Redis } from 'ioredis';
import type { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { bucketOf, STATUS_CODE } from '../../src/backend/redis/redis-layout.js';

/**
 * Changes a driver store's cell index behind its back, the way a bug, a
 * manual edit or a partial restore would, for the repairIndex and
 * reconciliation cases. The stores have no hook for it: for Redis the keys
 * are written with ioredis, for memory the store's private cell map is
 * reached through a type cast.
 */
export interface IndexTamper {
  /** Puts `driverId` into `cell` (an entry copied from its record, or a made-up one when it has none). */
  addEntry(cell: string, driverId: string): Promise<void>;
  /** Takes `driverId` out of `cell`, leaving its record as it is. */
  removeEntry(cell: string, driverId: string): Promise<void>;
}

/** The memory store's `cells` map (cell → driver ids), reached through a type cast. */
export function memoryIndexTamper(store: MemoryDriverStore): IndexTamper {
  const { cells } = store as unknown as { cells: Map<string, Set<string>> };
  return {
    async addEntry(cell, driverId) {
      let ids = cells.get(cell);
      if (!ids) cells.set(cell, (ids = new Set()));
      ids.add(driverId);
    },
    async removeEntry(cell, driverId) {
      const ids = cells.get(cell);
      ids?.delete(driverId);
      if (ids?.size === 0) cells.delete(cell);
    },
  };
}

/**
 * Plain ioredis writes under `keyPrefix` (the store's versioned prefix,
 * e.g. "test-1234:v1:"). A copied entry is the record's latE7 lngE7 ts
 * (bytes 0–15) and status, vehicle (bytes 36–37), see redis-layout.ts; a
 * made-up one sits at the cell's centre, available, with ts = `ts`.
 */
export function redisIndexTamper(redis: Redis, keyPrefix: string, ts = Date.now()): IndexTamper {
  return {
    async addEntry(cell, driverId) {
      const rec = await redis.hgetBuffer(`${keyPrefix}r:${bucketOf(driverId)}`, driverId);
      let entry: Buffer;
      if (rec) {
        entry = Buffer.concat([rec.subarray(0, 16), rec.subarray(36, 38)]);
      } else {
        const [lat, lng] = cellToLatLng(cell);
        entry = Buffer.alloc(18);
        entry.writeInt32LE(Math.round(lat * 1e7), 0);
        entry.writeInt32LE(Math.round(lng * 1e7), 4);
        entry.writeDoubleLE(ts, 8);
        entry.writeUInt8(STATUS_CODE.available, 16);
      }
      await redis.hset(`${keyPrefix}c:${cell}`, driverId, entry);
    },
    async removeEntry(cell, driverId) {
      await redis.hdel(`${keyPrefix}c:${cell}`, driverId);
    },
  };
}
