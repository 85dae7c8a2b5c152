import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/tokens.js';
import { HttpRateLimiter, nearbyCost, RateLimitedError } from '../../src/http/rate-limit.js';

/** HttpRateLimiter on its own: refill, Retry-After, the role split, and pruning. */

const who = (role: Principal['role'], sub: string): Principal => ({ role, sub, expiresAt: Date.now() + 60_000 });
const limits = { service: { perSec: 10, burst: 20 }, user: { perSec: 1, burst: 4 } };

function refusal(f: () => void): RateLimitedError {
  try {
    f();
  } catch (err) {
    if (err instanceof RateLimitedError) return err;
    throw err;
  }
  throw new Error('expected a RateLimitedError');
}

describe('HttpRateLimiter', () => {
  it('costs nearby by started km of radius', () => {
    expect([0, 1, 999, 1000, 1001, 20_000].map(nearbyCost)).toEqual([1, 1, 1, 1, 2, 20]);
  });

  it('grants the burst, refuses past it with the wait until enough has refilled, and refills at the rate', () => {
    const l = new HttpRateLimiter(limits);
    const svc = who('service', 's1');
    l.charge(svc, 15, 0);
    l.charge(svc, 5, 0);
    const e = refusal(() => l.charge(svc, 7, 0));
    expect(e.code).toBe('too_many_requests');
    expect(e.retryAfterS).toBe(1); // 7 tokens at 10/s: 0.7 s, rounded up
    expect(refusal(() => l.charge(svc, 7, 600)).retryAfterS).toBe(1);
    l.charge(svc, 7, 700);
  });

  it('gives service tokens and everyone else their own limits, per subject', () => {
    const l = new HttpRateLimiter(limits);
    l.charge(who('admin', 'a1'), 4, 0);
    expect(refusal(() => l.charge(who('admin', 'a1'), 1, 0)).retryAfterS).toBe(1);
    expect(refusal(() => l.charge(who('admin', 'a1'), 3, 0)).retryAfterS).toBe(3);
    l.charge(who('admin', 'a2'), 4, 0);
    l.charge(who('driver', 'a1'), 4, 0);
    l.charge(who('service', 'a1'), 20, 0);
  });

  it('refuses a cost above the burst outright', () => {
    const l = new HttpRateLimiter(limits);
    const e = refusal(() => l.charge(who('admin', 'a1'), 5, 0));
    expect(e.message).toMatch(/costs 5, more than the burst of 4/);
  });

  it('forgets full buckets once it holds many principals, and keeps the ones still spent', () => {
    const l = new HttpRateLimiter(limits);
    for (let i = 0; i < 10_000; i++) l.charge(who('driver', `d${i}`), 1, 0);
    l.charge(who('driver', 'spent'), 4, 10_000);
    // At 10 s every earlier bucket has refilled: the next new principal prunes them.
    l.charge(who('driver', 'new'), 1, 10_000);
    expect(l.size).toBe(2);
    expect(refusal(() => l.charge(who('driver', 'spent'), 1, 10_000)).code).toBe('too_many_requests');
  });
});
