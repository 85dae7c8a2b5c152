import { VEHICLE_NAME } from '../../domain/vehicle.js';
import type { DriverRecord, StoredStatus } from '../../geo/driver-store.js';
import type { CellEntry } from '../../geo/nearby-search.js';
import { COORD_SCALE, quantizeMetric } from '../../geo/geodesy.js';

/**
 * The byte layout of what RedisDriverStore keeps in Redis, mirrored from the
 * struct formats in the Lua scripts. Change both together, and bump the
 * layout version in the key prefix (":v1:").
 *
 *   record  '<i4i4ddfffBBBc15'  54 bytes
 *     0 latE7 i32 | 4 lngE7 i32 | 8 ts f64 | 16 seq f64 | 24 acc f32 | 28 spd f32
 *    32 hdg f32  | 36 status u8 | 37 vehicle u8 | 38 indexed u8 | 39 cell (15 ASCII hex chars)
 *   entry   '<i4i4dBB'          18 bytes
 *     0 latE7 i32 | 4 lngE7 i32 | 8 ts f64 | 16 status u8 | 17 vehicle u8
 *
 * acc/spd/hdg hold -1 when the ping did not carry them.
 */

/**
 * Record buckets. A fixed count keeps bucket names computable (the sweeper
 * walks them without SCAN); 16384 puts ~60 drivers in a bucket at 1M drivers,
 * small enough for Redis's compact listpack encoding (≤ 128 entries).
 */
export const BUCKETS = 16384;

export const STATUS_CODE: Record<StoredStatus, number> = { unknown: 0, available: 1, busy: 2, offline: 3 };
const STATUS_NAME: StoredStatus[] = ['unknown', 'available', 'busy', 'offline'];

/** FNV-1a over the UTF-16 code units: cheap and evenly spread. */
export function bucketOf(driverId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < driverId.length; i++) {
    h ^= driverId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

function optional(v: number): number | undefined {
  return v < 0 ? undefined : quantizeMetric(v);
}

export function decodeRecord(driverId: string, b: Buffer): DriverRecord {
  return {
    driverId,
    lat: b.readInt32LE(0) / COORD_SCALE,
    lng: b.readInt32LE(4) / COORD_SCALE,
    ts: b.readDoubleLE(8),
    seq: b.readDoubleLE(16),
    acc: optional(b.readFloatLE(24)),
    spd: optional(b.readFloatLE(28)),
    hdg: optional(b.readFloatLE(32)),
    status: STATUS_NAME[b.readUInt8(36)] ?? 'unknown',
    vehicle: VEHICLE_NAME[b.readUInt8(37)] ?? 'unknown',
    indexed: b.readUInt8(38) === 1,
    cell: b.toString('latin1', 39, 54),
  };
}

export function decodeEntry(driverId: string, b: Buffer): CellEntry {
  return {
    driverId,
    lat: b.readInt32LE(0) / COORD_SCALE,
    lng: b.readInt32LE(4) / COORD_SCALE,
    ts: b.readDoubleLE(8),
    status: STATUS_NAME[b.readUInt8(16)] ?? 'unknown',
    vehicle: VEHICLE_NAME[b.readUInt8(17)] ?? 'unknown',
  };
}
