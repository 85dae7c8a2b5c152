/**
 * A token bucket: `ratePerSec` tokens refill continuously up to `burst`.
 * Used per principal for WebSocket frames/s and pings/s. O(1), no timers.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** True when the bucket has refilled to its burst by `now` (it is then what a new one would be). */
  isFull(now: number): boolean {
    return this.tokens + ((now - this.last) * this.ratePerSec) / 1000 >= this.burst;
  }

  /** Takes up to `want` tokens; returns how many were granted. */
  take(want: number, now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
    this.last = now;
    const granted = Math.min(want, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }
}
