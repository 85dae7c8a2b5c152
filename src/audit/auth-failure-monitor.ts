export interface AuthFailureLimits {
  /** Failures within `windowMs` from one address (or for one subject) that make a burst; 0: never. */
  burst: number;
  windowMs: number;
  /** How long an address that made a burst is refused; 0: bursts are reported, nobody is refused. */
  cooloffMs: number;
  /** Most addresses plus subjects counted at once, and most addresses cooling off at once. */
  maxTracked: number;
}

/** A burst found by `failed`: who made it. */
export interface Burst {
  by: 'address' | 'subject';
  key: string;
  failures: number;
  /** When the address is refused until (ms since the epoch); undefined for a subject, or without a cool-off. */
  refusedUntil?: number;
}

interface Window {
  start: number;
  count: number;
}

/**
 * Counts failed authentications per source address and per token subject in
 * fixed windows, finds bursts, and keeps the addresses that made one in a
 * cool-off list.
 *
 * Memory is bounded whatever the traffic: at most `maxTracked` windows and
 * `maxTracked` cool-offs. Both maps are in insertion order, and an entry
 * whose window restarts is re-inserted, so the oldest entries are at the
 * front: expired ones are pruned from there, and when a map is full its
 * oldest entry is evicted. An attacker who rotates through more addresses
 * than that can evict counts (each address then makes fewer failures than a
 * burst, which is what a per-address limit can see anyway), but cannot grow
 * the gateway's memory.
 *
 * A subject's burst is reported but refuses nobody: the subject of a token
 * with a bad signature is whatever the sender wrote, and refusing it would
 * let anyone lock a real driver out.
 */
export class AuthFailureMonitor {
  private readonly windows = new Map<string, Window>();
  private readonly cooloffs = new Map<string, number>();

  constructor(private readonly limits: AuthFailureLimits) {}

  /** Addresses refused right now (for the gauge). */
  get coolingOff(): number {
    return this.cooloffs.size;
  }

  /**
   * Until when `address` is refused (ms since the epoch), or 0. O(1), and
   * nothing but a size check while no address is cooling off: it runs
   * before every request.
   */
  refusedUntil(address: string, now: number): number {
    if (this.cooloffs.size === 0) return 0;
    for (const [front, until] of this.cooloffs) {
      if (until > now) break;
      this.cooloffs.delete(front);
    }
    const until = this.cooloffs.get(address);
    if (until === undefined) return 0;
    if (until > now) return until;
    this.cooloffs.delete(address);
    return 0;
  }

  /** Counts one failure from `address` (and for `subject`, when the token named one); returns the bursts it completed. */
  failed(address: string | undefined, subject: string | undefined, now: number): Burst[] {
    if (this.limits.burst <= 0) return [];
    this.prune(now);
    const bursts: Burst[] = [];
    if (address !== undefined) {
      const failures = this.count(`a ${address}`, now);
      if (failures !== undefined) {
        const burst: Burst = { by: 'address', key: address, failures };
        if (this.limits.cooloffMs > 0) {
          burst.refusedUntil = now + this.limits.cooloffMs;
          this.cooloffs.delete(address);
          if (this.cooloffs.size >= this.limits.maxTracked) this.cooloffs.delete(this.cooloffs.keys().next().value!);
          this.cooloffs.set(address, burst.refusedUntil);
        }
        bursts.push(burst);
      }
    }
    if (subject !== undefined) {
      const failures = this.count(`s ${subject}`, now);
      if (failures !== undefined) bursts.push({ by: 'subject', key: subject, failures });
    }
    return bursts;
  }

  /** Adds a failure to `key`'s window; returns the count when it reaches the burst (the window then starts over). */
  private count(key: string, now: number): number | undefined {
    let w = this.windows.get(key);
    if (w === undefined || now - w.start >= this.limits.windowMs) {
      if (w !== undefined) this.windows.delete(key);
      else if (this.windows.size >= this.limits.maxTracked) this.windows.delete(this.windows.keys().next().value!);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    if (++w.count < this.limits.burst) return undefined;
    this.windows.delete(key);
    return w.count;
  }

  /** Drops expired windows and cool-offs from the front (the oldest); amortised O(1) per call. */
  private prune(now: number): void {
    for (const [key, w] of this.windows) {
      if (now - w.start < this.limits.windowMs) break;
      this.windows.delete(key);
    }
    for (const [address, until] of this.cooloffs) {
      if (until > now) break;
      this.cooloffs.delete(address);
    }
  }
}
