import { VEHICLE_NAME } from '../../domain/vehicle.js';
import type { DriverRecord, StoredStatus } from '../../geo/driver-store.js';
import type { CellEntry } from '../../geo/nearby-search.js';
import { COORD_SCALE, quantizeMetric } from '../../geo/geodesy.js';

/**
 * The byte layout of what RedisDriverStore keeps in Redis. RECORD and ENTRY
 * below are the one definition: the Lua scripts get their struct format
 * strings from them (the generated include RECORD_LAYOUT_LUA, pulled in with
 * `--@include "includes/record-layout"`), and decodeRecord/decodeEntry read
 * at the offsets they compute. Changing a field's code or size is one edit
 * here; adding, removing or reordering a field also changes what the scripts
 * pack and unpack. Either way the stored bytes change meaning, so bump the
 * layout version in the key prefix (the ":v1:" of "hf:v1:") with it.
 *
 *   record  prefix.."r:"..bucket  hash driverId → RECORD (one per driver)
 *   entry   prefix.."c:"..cell    hash driverId → ENTRY  (one per indexed driver)
 *
 * A field is a code of Redis's Lua `struct` library; the formats are
 * little-endian ('<'), packed without padding.
 */
export type StructCode = 'i4' | 'd' | 'f' | 'B' | `c${number}`;

/** One field of a struct, with what follows from its place in it. */
export interface LayoutField<N extends string = string> {
  readonly name: N;
  readonly code: StructCode;
  /** Bytes, from `code`: i4 4, d 8, f 4, B 1, cN N. */
  readonly size: number;
  /** Bytes before it: the sizes of the fields ahead of it. */
  readonly offset: number;
}

/** A packed struct: its fields in order, and the `struct.pack` format string they make. */
export interface StructLayout<N extends string = string> {
  readonly fields: readonly LayoutField<N>[];
  readonly byName: Readonly<Record<N, LayoutField<N>>>;
  /** For struct.pack / struct.unpack in Lua, e.g. '<i4i4dBB'. */
  readonly format: string;
  /** Total bytes: the length of every stored value of this struct. */
  readonly size: number;
}

/** Bytes of one struct code; throws on a code the layout does not use. */
export function structSize(code: string): number {
  switch (code) {
    case 'i4':
    case 'f':
      return 4;
    case 'd':
      return 8;
    case 'B':
      return 1;
  }
  const text = /^c([1-9][0-9]*)$/.exec(code);
  if (text) return Number(text[1]);
  throw new Error(`Unsupported struct code "${code}" in redis-layout.ts (use i4, d, f, B or cN)`);
}

/** Builds a layout from `[name, code]` pairs in storage order. */
export function structLayout<const N extends string>(pairs: readonly (readonly [N, StructCode])[]): StructLayout<N> {
  const fields: LayoutField<N>[] = [];
  let offset = 0;
  for (const [name, code] of pairs) {
    const size = structSize(code);
    fields.push({ name, code, size, offset });
    offset += size;
  }
  const byName = Object.fromEntries(fields.map((f) => [f.name, f])) as Record<N, LayoutField<N>>;
  return { fields, byName, format: '<' + fields.map((f) => f.code).join(''), size: offset };
}

/** A driver's record: the truth about it (the cell index is derived from it). */
export const RECORD = structLayout([
  ['latE7', 'i4'], // degrees × COORD_SCALE (1e7), about 1 cm
  ['lngE7', 'i4'],
  ['ts', 'd'], // fix time, epoch ms
  ['seq', 'd'], // highest applied ping seq
  ['acc', 'f'], // metres; acc/spd/hdg hold -1 when the ping did not carry them
  ['spd', 'f'], // m/s
  ['hdg', 'f'], // degrees
  ['status', 'B'], // STATUS_CODE
  ['vehicle', 'B'], // VEHICLE_CODE of src/domain/vehicle.ts
  ['indexed', 'B'], // 1 = has an entry in `cell`
  ['cell', 'c15'], // H3 cell, 15 hex chars
]);

/** A driver's entry in its cell's hash: what nearby() filters and ranks on, copied from the record. */
export const ENTRY = structLayout([
  ['latE7', 'i4'],
  ['lngE7', 'i4'],
  ['ts', 'd'],
  ['status', 'B'],
  ['vehicle', 'B'],
]);

/**
 * The Lua side of RECORD and ENTRY, expanded into a script in place of its
 * `--@include "includes/record-layout"` line (see load-scripts.ts).
 */
export const RECORD_LAYOUT_LUA = [
  '-- includes/record-layout: generated from RECORD and ENTRY in src/backend/redis/redis-layout.ts; edit them there.',
  `-- REC   ${RECORD.size} bytes: ${RECORD.fields.map((f) => f.name).join(' ')}`,
  `local REC = '${RECORD.format}'`,
  `-- ENTRY ${ENTRY.size} bytes: ${ENTRY.fields.map((f) => f.name).join(' ')}`,
  `local ENTRY = '${ENTRY.format}'`,
].join('\n');

/** The number at `f` (any code but cN). */
export function readNumber(b: Buffer, f: LayoutField): number {
  switch (f.code) {
    case 'i4':
      return b.readInt32LE(f.offset);
    case 'd':
      return b.readDoubleLE(f.offset);
    case 'f':
      return b.readFloatLE(f.offset);
    case 'B':
      return b.readUInt8(f.offset);
  }
  throw new Error(`${f.name} is ${f.code}, not a number`);
}

/** The text at `f` (a cN field), one byte per character. */
export function readText(b: Buffer, f: LayoutField): string {
  return b.toString('latin1', f.offset, f.offset + f.size);
}

/**
 * Writes `value` at `f`. The stores never write a struct from TypeScript
 * (the scripts do); this is for tools and tests that build one by hand.
 */
export function writeField(b: Buffer, f: LayoutField, value: number | string): void {
  if (typeof value === 'string') {
    if (!f.code.startsWith('c')) throw new Error(`${f.name} is ${f.code}, not text`);
    b.fill(0, f.offset, f.offset + f.size).write(value, f.offset, f.size, 'latin1');
    return;
  }
  switch (f.code) {
    case 'i4':
      b.writeInt32LE(value, f.offset);
      return;
    case 'd':
      b.writeDoubleLE(value, f.offset);
      return;
    case 'f':
      b.writeFloatLE(value, f.offset);
      return;
    case 'B':
      b.writeUInt8(value, f.offset);
      return;
  }
  throw new Error(`${f.name} is ${f.code}, not a number`);
}

/**
 * Record buckets. A fixed count keeps bucket names computable (the sweeper
 * walks them without SCAN); 16384 puts ~60 drivers in a bucket at 1M drivers,
 * small enough for Redis's compact listpack encoding (≤ 128 entries).
 */
export const BUCKETS = 16384;

export const STATUS_CODE: Record<StoredStatus, number> = { unknown: 0, available: 1, busy: 2, offline: 3 };
export const STATUS_NAME: StoredStatus[] = ['unknown', 'available', 'busy', 'offline'];

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

const R = RECORD.byName;
const E = ENTRY.byName;

/** A stored record (RECORD.size bytes) as the store returns it. */
export function decodeRecord(driverId: string, b: Buffer): DriverRecord {
  return {
    driverId,
    lat: readNumber(b, R.latE7) / COORD_SCALE,
    lng: readNumber(b, R.lngE7) / COORD_SCALE,
    ts: readNumber(b, R.ts),
    seq: readNumber(b, R.seq),
    acc: optional(readNumber(b, R.acc)),
    spd: optional(readNumber(b, R.spd)),
    hdg: optional(readNumber(b, R.hdg)),
    status: STATUS_NAME[readNumber(b, R.status)] ?? 'unknown',
    vehicle: VEHICLE_NAME[readNumber(b, R.vehicle)] ?? 'unknown',
    indexed: readNumber(b, R.indexed) === 1,
    cell: readText(b, R.cell),
  };
}

/** A cell entry (ENTRY.size bytes) as nearby.lua returns it. */
export function decodeEntry(driverId: string, b: Buffer): CellEntry {
  return {
    driverId,
    lat: readNumber(b, E.latE7) / COORD_SCALE,
    lng: readNumber(b, E.lngE7) / COORD_SCALE,
    ts: readNumber(b, E.ts),
    status: STATUS_NAME[readNumber(b, E.status)] ?? 'unknown',
    vehicle: VEHICLE_NAME[readNumber(b, E.vehicle)] ?? 'unknown',
  };
}
