/** Reconnect and resend delays: exponential growth capped at `maxMs`, with full jitter. */
export interface BackoffOptions {
  /** Upper bound of the first delay, ms. */
  initialMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/**
 * "Full jitter" (AWS Architecture Blog, 2015): a uniform delay in
 * [0, min(maxMs, initialMs · 2^attempt)). Spreading reconnects over the whole
 * window keeps thousands of apps that lost the same gateway from arriving at
 * the next one in lockstep.
 */
export function fullJitter(attempt: number, { initialMs, maxMs }: BackoffOptions, random: () => number = Math.random): number {
  // 2^30 already exceeds any sensible cap; clamping keeps the product finite.
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Throws a TypeError naming the option when the backoff is not usable. */
export function validateBackoff(b: BackoffOptions, name: string): void {
  if (!Number.isFinite(b.initialMs) || b.initialMs < 0) throw new TypeError(`${name}.initialMs must be a finite number >= 0`);
  if (!Number.isFinite(b.maxMs) || b.maxMs < b.initialMs) throw new TypeError(`${name}.maxMs must be a finite number >= ${name}.initialMs`);
}
