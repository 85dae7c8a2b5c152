import { VEHICLE_CODE } from '../../domain/vehicle.js';
import type { DriverBatch, Ping } from '../../geo/driver-store.js';
import { COORD_SCALE, quantizeMetric } from '../../geo/geodesy.js';
import { STATUS_CODE } from './redis-layout.js';

/** What applyPings.lua is told about a driver without a record in the keys it reaches (see its header). */
export const APPLY_MODE = { mustExist: 0, create: 1, seeded: 2 } as const;
/** applyPings.lua's answer for a driver it did not write: no record here (mode mustExist), or the position belongs to another area. */
export const NOT_HERE = -1;
export const OTHER_AREA = -2;

/** One driver's part of an applyPings.lua call. */
export interface PayloadDriver {
  batch: DriverBatch;
  /** Its record bucket (under the call's prefix). */
  bucket: number;
  mode: (typeof APPLY_MODE)[keyof typeof APPLY_MODE];
  /** Its record in the area it leaves (mode seeded), as stored. */
  seed?: Buffer;
  /** Whether the call's keys hold cell `cell` (Cluster: its area); default every cell. */
  inScope?: (cell: string) => boolean;
}

/**
 * The msgpack-able flat array applyPings.lua reads (its header has the
 * format). Only a ping whose ts beats every later applicable ping of its
 * batch can end up as the stored position, so only those get a cell (the
 * H3 index is the costly part); a ping whose seq is not above an earlier one
 * of the batch is a duplicate whatever Redis holds: it neither wins nor
 * beats anyone. A winning ping whose cell is out of scope is sent with ""
 * and the script refuses that driver (-2).
 */
export function applyPayload(drivers: readonly PayloadDriver[], cellOfPing: (p: Ping) => string): (string | number)[] {
  const payload: (string | number)[] = [drivers.length];
  for (const { batch: { driverId, pings, vehicle }, bucket, mode, seed, inScope } of drivers) {
    payload.push(driverId, bucket, vehicle ? VEHICLE_CODE[vehicle] : 0, mode, seed ? seed.toString('hex') : '', pings.length);
    const inBatchDuplicate: boolean[] = [];
    let maxSeq = -Infinity;
    for (const p of pings) {
      inBatchDuplicate.push(p.seq <= maxSeq);
      maxSeq = Math.max(maxSeq, p.seq);
    }
    let laterMaxTs = -Infinity;
    const base = payload.length;
    for (let k = pings.length - 1; k >= 0; k--) {
      const p = pings[k]!;
      const latE7 = Math.round(p.lat * COORD_SCALE);
      const lngE7 = Math.round(p.lng * COORD_SCALE);
      const canWin = !inBatchDuplicate[k] && p.ts > laterMaxTs;
      let cell = canWin ? cellOfPing(p) : '';
      if (cell !== '' && inScope && !inScope(cell)) cell = '';
      if (!inBatchDuplicate[k]) laterMaxTs = Math.max(laterMaxTs, p.ts);
      const at = base + k * 9;
      payload[at] = p.seq;
      payload[at + 1] = p.ts;
      payload[at + 2] = latE7;
      payload[at + 3] = lngE7;
      // Rounded to 0.01 before the float32 in Redis, as MemoryDriverStore does:
      // rounding the float32 afterwards turns e.g. 0.005 into 0, not 0.01.
      payload[at + 4] = quantizeMetric(p.acc) ?? -1;
      payload[at + 5] = quantizeMetric(p.spd) ?? -1;
      payload[at + 6] = quantizeMetric(p.hdg) ?? -1;
      payload[at + 7] = p.status ? STATUS_CODE[p.status] : 0;
      payload[at + 8] = cell;
    }
  }
  return payload;
}

/** The cell a ping is stored in: that of its position as stored (1e-7 degrees), as applyPayload computes it. */
export function pingCell(p: Ping, cellOf: (lat: number, lng: number) => string): string {
  return cellOf(Math.round(p.lat * COORD_SCALE) / COORD_SCALE, Math.round(p.lng * COORD_SCALE) / COORD_SCALE);
}

/**
 * The ping whose position applyPings.lua would store, given the stored
 * record's seq and ts (none: -1 and undefined): the same rule as the script
 * (a ping applies when its seq is above the running seq; its position wins
 * when its ts is at least the running ts). Undefined when none would move it.
 */
export function winningPing(pings: readonly Ping[], storedSeq: number, storedTs: number | undefined): Ping | undefined {
  let seq = storedSeq;
  let ts = storedTs;
  let winner: Ping | undefined;
  for (const p of pings) {
    if (p.seq <= seq) continue;
    seq = p.seq;
    if (ts === undefined || p.ts >= ts) {
      ts = p.ts;
      winner = p;
    }
  }
  return winner;
}
