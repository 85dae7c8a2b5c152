import type { Principal } from '../auth/tokens.js';
import { HexfleetError } from '../protocol/error-codes.js';

/** Sustained cost/s and burst of one principal's bucket. */
export interface RateLimit {
  perSec: number;
  burst: number;
}

/** The limits by kind of principal: service tokens (backend callers) and everyone else (people and apps). */
export interface HttpRateLimits {
  service: RateLimit;
  user: RateLimit;
}

/** A request refused for its principal's rate: 429 `too_many_requests`, with `Retry-After: retryAfterS`. */
export class RateLimitedError extends HexfleetError {
  constructor(readonly retryAfterS: number, message: string) {
    super('too_many_requests', message);
    this.name = 'RateLimitedError';
  }
}

/** A nearby query costs 1 per started km of radius: the cells searched grow with it, and a 20 km query costs 20 of a 1 km one. */
export function nearbyCost(radiusM: number): number {
  return Math.max(1, Math.ceil(radiusM / 1000));
}

/** One principal's bucket: tokens as of `at` (ms). */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Buckets beyond this many principals are pruned of the full ones (idle
 * principals lose nothing: a full bucket is what a new one starts as). Tokens
 * are signed, so principals are not free to invent; the bound is for a
 * long-lived gateway seeing many short-lived subjects (tracker links).
 */
const PRUNE_AT = 10_000;

/**
 * Per-principal token buckets for the HTTP API, weighted by cost. A
 * principal is a token's role and subject, so one service's requests share
 * one budget whatever connection they come on, and two services never share
 * one. O(1) per request (one map lookup, no timers, no allocation once the
 * principal is known); the map is pruned of full buckets when it grows past
 * PRUNE_AT.
 */
export class HttpRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: HttpRateLimits) {}

  /** Spends `cost` of the principal's budget, or throws RateLimitedError (nothing spent) with when to come back. */
  charge(principal: Principal, cost: number, now = Date.now()): void {
    const limit = principal.role === 'service' ? this.limits.service : this.limits.user;
    const key = `${principal.role}\u0000${principal.sub}`;
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= PRUNE_AT) this.prune(now);
      b = { tokens: limit.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) * limit.perSec) / 1000);
      b.at = now;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return;
    }
    // A cost above the burst never fits: it waits as if the bucket were full, and is refused then too.
    const waitS = cost > limit.burst ? Infinity : (cost - b.tokens) / limit.perSec;
    const retryAfterS = Number.isFinite(waitS) ? Math.max(1, Math.ceil(waitS)) : 60;
    throw new RateLimitedError(retryAfterS, Number.isFinite(waitS)
      ? `this token spent its request budget (${limit.perSec} per second, burst ${limit.burst}; this request costs ${cost}); retry after ${retryAfterS} s`
      : `this request costs ${cost}, more than the burst of ${limit.burst} this token may spend at once; ask for less (e.g. a smaller radius)`);
  }

  /** Principals with a bucket now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) {
      const limit = key.startsWith('service\u0000') ? this.limits.service : this.limits.user;
      if (b.tokens + ((now - b.at) * limit.perSec) / 1000 >= limit.burst) this.buckets.delete(key);
    }
  }
}
