import { DRIVER_STATUSES, type DriverStatus, type Ping } from '../geo/driver-store.js';
import type { ErrorCode } from '../protocol/error-codes.js';

export interface PingLimits {
  maxFutureMs: number;
  maxAgeMs: number;
}

/** A rejected ping: its code, and its seq when it had a usable one. */
export interface PingRejection {
  code: ErrorCode;
  seq: number | undefined;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The largest acc and spd the store keeps exactly (exclusive). RECORD in
 * src/backend/redis/redis-layout.ts holds them as 32-bit floats (`f`) after
 * rounding to 0.01 (geodesy's quantizeMetric); a float32 keeps every 0.01
 * step only below 2^17 (its spacing there is 2^-7 < 0.01; from 2^17 on it is
 * 2^-6 > 0.01), and past 3.4e38 it holds nothing at all (1e308 used to be
 * acked and read back as null). hdg is bounded by [0, 360] already.
 * test/ingest/stored-ranges.test.ts checks this against RECORD.
 */
export const MAX_STORED_METRIC = 2 ** 17;

/**
 * Checks one ping as sent by a driver app. Returns the ping (only the known
 * fields, so nothing unexpected reaches the store) or the reason it is refused.
 * Hot path: no allocation beyond the result.
 */
export function validatePing(raw: unknown, now: number, limits: PingLimits): Ping | PingRejection {
  if (typeof raw !== 'object' || raw === null) return { code: 'invalid_ping', seq: undefined };
  const r = raw as Record<string, unknown>;
  const seq = r.seq;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return { code: 'invalid_seq', seq: isNum(seq) ? seq : undefined };
  const s = seq as number;
  const { lat, lng, ts } = r;
  if (!isNum(lat) || lat < -90 || lat > 90) return { code: 'invalid_lat', seq: s };
  if (!isNum(lng) || lng < -180 || lng > 180) return { code: 'invalid_lng', seq: s };
  if (!isNum(ts)) return { code: 'invalid_ts', seq: s };
  if (ts > now + limits.maxFutureMs) return { code: 'ts_in_future', seq: s };
  if (ts < now - limits.maxAgeMs) return { code: 'ts_too_old', seq: s };
  const ping: Ping = { seq: s, lat, lng, ts };
  if (r.acc !== undefined && r.acc !== null) {
    if (!isNum(r.acc) || r.acc < 0) return { code: 'invalid_field', seq: s };
    if (r.acc >= MAX_STORED_METRIC) return { code: 'value_out_of_range', seq: s };
    ping.acc = r.acc;
  }
  if (r.spd !== undefined && r.spd !== null) {
    if (!isNum(r.spd) || r.spd < 0) return { code: 'invalid_field', seq: s };
    if (r.spd >= MAX_STORED_METRIC) return { code: 'value_out_of_range', seq: s };
    ping.spd = r.spd;
  }
  if (r.hdg !== undefined && r.hdg !== null) {
    if (!isNum(r.hdg) || r.hdg < 0 || r.hdg > 360) return { code: 'invalid_field', seq: s };
    ping.hdg = r.hdg;
  }
  if (r.status !== undefined && r.status !== null) {
    if (!DRIVER_STATUSES.includes(r.status as DriverStatus)) return { code: 'invalid_status', seq: s };
    ping.status = r.status as DriverStatus;
  }
  return ping;
}

export function isRejection(v: Ping | PingRejection): v is PingRejection {
  return (v as PingRejection).code !== undefined;
}
