/**
 * Budgets kept per principal (a token's role and subject), not per
 * connection: every connection of one driver or watcher spends the same
 * frame rate, bad-frame budget and ping rate, so an abuser that is closed
 * and reconnects at once does not start over with a full burst (bench:flood
 * measured each reconnect buying 2,000 more frames). O(1) per lookup, no
 * timers; when it holds more than PRUNE_AT principals, a new one first
 * drops those whose budget is back to what a new one starts with.
 */
export class PrincipalBudgets<B> {
  private readonly budgets = new Map<string, B>();

  /**
   * `create` makes a principal's fresh budget; `idle` says whether one has
   * recovered to that (so forgetting it changes nothing).
   */
  constructor(
    private readonly create: (now: number) => B,
    private readonly idle: (budget: B, now: number) => boolean,
  ) {}

  /** The budget of `key`, made on first use. */
  of(key: string, now: number): B {
    let b = this.budgets.get(key);
    if (b === undefined) {
      if (this.budgets.size >= PRUNE_AT) this.prune(now);
      b = this.create(now);
      this.budgets.set(key, b);
    }
    return b;
  }

  /** Principals with a budget now. */
  get size(): number {
    return this.budgets.size;
  }

  private prune(now: number): void {
    for (const [key, b] of this.budgets) if (this.idle(b, now)) this.budgets.delete(key);
  }
}

/** Past this many principals, idle budgets are dropped before a new one is made (a few hundred bytes each). */
const PRUNE_AT = 50_000;
