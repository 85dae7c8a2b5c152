import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/replay/traffic-stats.js';

describe('LatencyHistogram', () => {
  it('percentiles by nearest rank, at most 1 % low, max exact', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 10); // 0.1 … 1000 ms
    const p = h.percentiles();
    expect(p.count).toBe(10_000);
    expect(p.max).toBe(1000);
    for (const [got, want] of [[p.p50, 500], [p.p99, 990], [p.p999, 999]] as const) {
      expect(got).toBeLessThanOrEqual(want);
      expect(got).toBeGreaterThanOrEqual(want * 0.99);
    }
  });

  it('sub-millisecond values in 10 µs steps; empty is all zeros', () => {
    const h = new LatencyHistogram();
    expect(h.percentiles()).toEqual({ count: 0, p50: 0, p99: 0, p999: 0, max: 0 });
    h.record(0.257);
    h.record(-1); // A clock step back counts as 0.
    expect(h.percentiles()).toMatchObject({ count: 2, p50: 0, max: 0.257 });
    expect(h.percentiles().p99).toBeCloseTo(0.25, 5);
  });
});
