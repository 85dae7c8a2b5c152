import { describe, expect, it } from 'vitest';
import { retryCeilingMs, retryDelayMs } from '../../src/runtime/backoff.js';

describe('webhook retry backoff (full jitter)', () => {
  // base 200 ms, cap 30 s: the defaults (HEXFLEET_WEBHOOK_BACKOFF_MS, HEXFLEET_WEBHOOK_BACKOFF_MAX_MS).
  const table: Array<[number, number]> = [[1, 200], [2, 400], [3, 800], [4, 1600], [7, 12_800], [8, 25_600], [9, 30_000], [50, 30_000], [5000, 30_000]];
  it.each(table)('after attempt %i the ceiling is %i ms', (attempt, ceiling) => {
    expect(retryCeilingMs(attempt, 200, 30_000)).toBe(ceiling);
  });

  it('draws uniformly below the ceiling: 0 at random() = 0, just under the ceiling near 1', () => {
    expect(retryDelayMs(4, 200, 30_000, () => 0)).toBe(0);
    expect(retryDelayMs(4, 200, 30_000, () => 0.5)).toBe(800);
    expect(retryDelayMs(4, 200, 30_000, () => 0.999999)).toBe(1599);
  });
});
