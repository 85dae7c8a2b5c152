/**
 * The pause before attempt `attempt + 1`, after `attempt` failed (webhook
 * deliveries, replication writes, audit appends to Kafka):
 * "full jitter" — uniform in [0, min(maxMs, baseMs · 2^(attempt−1))]. The
 * randomness spreads the retries of many notifiers (and of many events after
 * an outage) instead of sending them back in synchronised waves; the doubling
 * cap keeps the expected wait growing. See "Exponential Backoff And Jitter",
 * AWS Architecture Blog, 2015.
 *
 * `random` is injectable so the schedule can be checked exactly.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * retryCeilingMs(attempt, baseMs, maxMs));
}

/** The ceiling of the pause after `attempt` failures (what the jitter draws below); for docs and tests. */
export function retryCeilingMs(attempt: number, baseMs: number, maxMs: number): number {
  // The exponent is capped so that 2^n stays a finite double whatever the attempt count (min() with maxMs decides anyway).
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 52));
}
