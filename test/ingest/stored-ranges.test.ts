import { describe, expect, it } from 'vitest';
import { RECORD } from '../../src/backend/redis/redis-layout.js';
import { quantizeMetric } from '../../src/geo/geodesy.js';
import { MAX_STORED_METRIC, validatePing } from '../../src/ingest/ping-validator.js';

/**
 * The ping validator's MAX_STORED_METRIC against the stored layout: every
 * acc/spd it accepts comes back from RECORD's float32 as sent (to 0.01), and
 * the bound is tight (just past it, values come back changed).
 */

/** What the Redis store does to a metric: quantize, pack as float32, read back and quantize. */
const roundTrip = (v: number) => quantizeMetric(Math.fround(quantizeMetric(v)!));

describe('stored ranges', () => {
  it('acc and spd are float32 fields of RECORD', () => {
    expect(RECORD.byName.acc.code).toBe('f');
    expect(RECORD.byName.spd.code).toBe('f');
  });

  it('keeps every 0.01 step below MAX_STORED_METRIC exactly', () => {
    for (let cents = MAX_STORED_METRIC * 100 - 20_000; cents < MAX_STORED_METRIC * 100; cents++) {
      const v = cents / 100;
      expect(roundTrip(v)).toBe(quantizeMetric(v));
    }
    for (const v of [0, 0.01, 1.23, 8.1, 65_536.01, 100_000.07]) expect(roundTrip(v)).toBe(v);
  });

  it('is tight: values just past it would come back changed, so they are refused', () => {
    const changed = [131_072.01, 131_073.01, 200_000.01].filter((v) => roundTrip(v) !== v);
    expect(changed).toEqual([131_072.01, 131_073.01, 200_000.01]);
    const now = Date.now();
    const p = (extra: object) => validatePing({ seq: 1, lat: 1, lng: 1, ts: now, ...extra }, now, { maxFutureMs: 1000, maxAgeMs: 1000 });
    expect(p({ acc: MAX_STORED_METRIC })).toEqual({ code: 'value_out_of_range', seq: 1 });
    expect(p({ spd: 1e308 })).toEqual({ code: 'value_out_of_range', seq: 1 });
    expect(p({ acc: MAX_STORED_METRIC - 0.01 })).toMatchObject({ acc: MAX_STORED_METRIC - 0.01 });
  });
});
