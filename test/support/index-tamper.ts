import { cellToLatLng } from 'h3-js';
import type { Cluster, Redis } from 'ioredis';
import type { ClusterLayout } from '../../src/backend/redis/cluster/cluster-layout.js';
import type { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import type { CellLists } from '../../src/geo/cell-lists.js';
import { bucketOf, ENTRY, RECORD, STATUS_CODE, writeField } from '../../src/backend/redis/redis-layout.js';

/**
 * Changes a driver store's cell index behind its back, the way a bug, a
 * manual edit or a partial restore would, for the repairIndex and
 * reconciliation cases. The stores have no hook for it: for Redis the keys
 * are written with ioredis, for memory the store's private cell lists are
 * reached through a type cast.
 */
export interface IndexTamper {
  /** Puts `driverId` into `cell` (an entry copied from its record, or a made-up one when it has none). */
  addEntry(cell: string, driverId: string): Promise<void>;
  /** Takes `driverId` out of `cell`, leaving its record as it is. */
  removeEntry(cell: string, driverId: string): Promise<void>;
}

/**
 * The memory store's cell lists (src/geo/cell-lists.ts), reached through type
 * casts: its DriverIndex's `bySlot` (driver id → slot), `cells`, and
 * `putEntry` (an entry copied from the driver's record). A driver without a
 * record has no slot: its entry names slot −1 and holds no position, so only
 * repairIndex sees it.
 */
export function memoryIndexTamper(store: MemoryDriverStore): IndexTamper {
  const { index } = store as unknown as { index: { bySlot: Map<string, number>; cells: CellLists; putEntry(id: number, slot: number): void } };
  const slotOf = (driverId: string): number => index.bySlot.get(driverId) ?? -1;
  return {
    async addEntry(cell, driverId) {
      const slot = slotOf(driverId);
      // A reference of our own while we look, so that a new cell's id lives until the entry holds one.
      const id = index.cells.retain(cell);
      if (!index.cells.has(id, slot)) index.putEntry(id, slot);
      index.cells.release(id);
    },
    async removeEntry(cell, driverId) {
      const id = index.cells.idOf(cell);
      if (id >= 0) index.cells.remove(id, slotOf(driverId));
    },
  };
}

/**
 * Plain ioredis writes under `keyPrefix` (the store's versioned prefix,
 * e.g. "test-1234:v1:"). A copied entry holds each ENTRY field copied from
 * the RECORD field of the same name (as applyPings.lua builds it); a made-up
 * one sits at the cell's centre, available, with ts = `ts`.
 */
export function redisIndexTamper(redis: Redis, keyPrefix: string, ts = Date.now()): IndexTamper {
  return {
    async addEntry(cell, driverId) {
      const rec = await redis.hgetBuffer(`${keyPrefix}r:${bucketOf(driverId)}`, driverId);
      const entry = rec ? entryOfRecord(rec) : madeUpEntry(cell, ts);
      await redis.hset(`${keyPrefix}c:${cell}`, driverId, entry);
    },
    async removeEntry(cell, driverId) {
      await redis.hdel(`${keyPrefix}c:${cell}`, driverId);
    },
  };
}

/** An entry for a driver without a record: at the cell's centre, available, fix time `ts`. */
function madeUpEntry(cell: string, ts: number): Buffer {
  const [lat, lng] = cellToLatLng(cell);
  const entry = Buffer.alloc(ENTRY.size);
  writeField(entry, ENTRY.byName.latE7, Math.round(lat * 1e7));
  writeField(entry, ENTRY.byName.lngE7, Math.round(lng * 1e7));
  writeField(entry, ENTRY.byName.ts, ts);
  writeField(entry, ENTRY.byName.status, STATUS_CODE.available);
  return entry;
}

/** The entry applyPings.lua would write for a record: each ENTRY field's bytes from the RECORD field of that name. */
function entryOfRecord(rec: Buffer): Buffer {
  const entry = Buffer.alloc(ENTRY.size);
  for (const f of ENTRY.fields) {
    const from = RECORD.byName[f.name];
    if (from.code !== f.code) throw new Error(`ENTRY.${f.name} is ${f.code} but RECORD.${f.name} is ${from.code}`);
    rec.copy(entry, f.offset, from.offset, from.offset + from.size);
  }
  return entry;
}

/**
 * The same on the Cluster engine's layout (src/backend/redis/cluster/cluster-layout.ts):
 * a driver's record is found through its home directory, an entry goes to
 * the cell's area.
 */
export function clusterIndexTamper(cluster: Cluster, layout: ClusterLayout, ts = Date.now()): IndexTamper {
  const recordOf = async (driverId: string): Promise<Buffer | null> => {
    const home = await cluster.hget(layout.homeKey(driverId), driverId);
    if (!home) return null;
    return cluster.hgetBuffer(layout.areaPrefix(home.split(' ')[0]!) + 'r:' + layout.areaBucket(driverId), driverId);
  };
  return {
    async addEntry(cell, driverId) {
      const rec = await recordOf(driverId);
      const entry = rec ? entryOfRecord(rec) : madeUpEntry(cell, ts);
      await cluster.hset(`${layout.areaPrefix(layout.areaOf(cell))}c:${cell}`, driverId, entry);
    },
    async removeEntry(cell, driverId) {
      await cluster.hdel(`${layout.areaPrefix(layout.areaOf(cell))}c:${cell}`, driverId);
    },
  };
}
