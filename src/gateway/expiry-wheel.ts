/**
 * Items bucketed by the second they expire in, so that one sweep per second
 * finds every expired item without a timer per item and without looking at
 * the ones that are not due:
 *
 *   second:  …  t-1 │  t  │ t+1 │ t+2 …        (Map: second → Set of items)
 *                    ▲ cursor: every bucket before it was swept
 *
 * `sweep(now)` takes the buckets from the cursor up to now's second (a few
 * after a stalled event loop), deletes them and returns their items: cost per
 * sweep is the number of due items plus the seconds elapsed. An item added
 * with an expiry before the cursor lands in the cursor's bucket (due at the
 * next sweep). An item is in at most one bucket; `move` re-files it (a socket
 * whose token was extended).
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private cursor: number;

  constructor(now: number) {
    this.cursor = Math.floor(now / 1000);
  }

  /** Files `item` to expire at `expiresAt` (ms since the epoch). */
  add(item: T, expiresAt: number): void {
    const s = Math.max(secondOf(expiresAt), this.cursor);
    let bucket = this.buckets.get(s);
    if (!bucket) this.buckets.set(s, (bucket = new Set()));
    bucket.add(item);
  }

  /** Removes `item` filed at `expiresAt` (idempotent). */
  remove(item: T, expiresAt: number): void {
    const s = Math.max(secondOf(expiresAt), this.cursor);
    const bucket = this.buckets.get(s);
    if (!bucket) return;
    bucket.delete(item);
    if (bucket.size === 0) this.buckets.delete(s);
  }

  move(item: T, from: number, to: number): void {
    this.remove(item, from);
    this.add(item, to);
  }

  /** Removes and returns every item whose expiry is at or before `now`. */
  sweep(now: number): T[] {
    const due: T[] = [];
    // Bucket s holds expiries in ((s−1)·1000, s·1000]: all due once now reaches s·1000.
    const last = Math.floor(now / 1000);
    for (; this.cursor <= last; this.cursor++) {
      const bucket = this.buckets.get(this.cursor);
      if (!bucket) continue;
      this.buckets.delete(this.cursor);
      for (const item of bucket) due.push(item);
    }
    return due;
  }

  /** Items filed (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.size;
    return n;
  }
}

/** The wheel's bucket of an expiry: the first whole second at or after it (never early; token exp is whole seconds anyway). */
function secondOf(ms: number): number {
  return Math.ceil(ms / 1000);
}
