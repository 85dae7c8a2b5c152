import { describe, expect, it } from 'vitest';
import { AuthFailureMonitor } from '../../src/audit/auth-failure-monitor.js';

const limits = { burst: 3, windowMs: 1000, cooloffMs: 500, maxTracked: 100 };

describe('AuthFailureMonitor', () => {
  it('finds a burst within the window, cools the address off, and lets it in after', () => {
    const m = new AuthFailureMonitor(limits);
    expect(m.failed('10.0.0.1', undefined, 0)).toEqual([]);
    expect(m.failed('10.0.0.1', undefined, 10)).toEqual([]);
    expect(m.refusedUntil('10.0.0.1', 10)).toBe(0);
    expect(m.failed('10.0.0.1', undefined, 20)).toEqual([{ by: 'address', key: '10.0.0.1', failures: 3, refusedUntil: 520 }]);
    expect(m.refusedUntil('10.0.0.1', 519)).toBe(520);
    expect(m.refusedUntil('10.0.0.2', 519)).toBe(0);
    expect(m.refusedUntil('10.0.0.1', 520)).toBe(0);
    expect(m.coolingOff).toBe(0);
  });

  it('does not add up failures of different windows', () => {
    const m = new AuthFailureMonitor(limits);
    m.failed('a', undefined, 0);
    m.failed('a', undefined, 500);
    expect(m.failed('a', undefined, 1000)).toEqual([]); // the first window ended at 1000
    expect(m.failed('a', undefined, 1001)).toEqual([]);
    expect(m.failed('a', undefined, 1002)).toHaveLength(1);
  });

  it('reports a subject burst without refusing anyone for it', () => {
    const m = new AuthFailureMonitor(limits);
    const bursts = [1, 2, 3].flatMap((i) => m.failed(`10.0.0.${i}`, 'drv-1', i));
    expect(bursts).toEqual([{ by: 'subject', key: 'drv-1', failures: 3 }]);
    expect(m.coolingOff).toBe(0);
  });

  it('never counts more than maxTracked keys, whatever the number of addresses', () => {
    const m = new AuthFailureMonitor({ ...limits, burst: 2, maxTracked: 100 });
    for (let i = 0; i < 100_000; i++) m.failed(`addr-${i}`, `sub-${i}`, 1);
    const windows = (m as unknown as { windows: Map<string, unknown> }).windows;
    expect(windows.size).toBeLessThanOrEqual(100);
    // Cool-offs are bounded the same way: 100,000 addresses each making a burst leave at most 100.
    for (let i = 0; i < 100_000; i++) {
      m.failed(`b-${i}`, undefined, 2);
      m.failed(`b-${i}`, undefined, 2);
    }
    expect(m.coolingOff).toBeLessThanOrEqual(100);
    expect(m.refusedUntil(`b-${99_999}`, 3)).toBe(502);
  });

  it('with burst 0 never finds one; with cool-off 0 reports without refusing', () => {
    const off = new AuthFailureMonitor({ ...limits, burst: 0 });
    for (let i = 0; i < 10; i++) expect(off.failed('a', 's', i)).toEqual([]);
    const report = new AuthFailureMonitor({ ...limits, cooloffMs: 0 });
    const b = [0, 1, 2].flatMap((t) => report.failed('a', undefined, t));
    expect(b).toEqual([{ by: 'address', key: 'a', failures: 3 }]);
    expect(report.refusedUntil('a', 3)).toBe(0);
  });
});
