/**
 * The listeners of one pub/sub part (a bus, or one driver's sockets on a
 * channel), and the one delivery loop every part uses:
 *
 * - a listener that throws is reported and skipped, so it stops neither the
 *   listeners after it nor the caller of `deliver` (a publisher, the ingest
 *   pipeline, or ioredis's reply reader, which must never see a throw);
 * - once closed, `deliver` delivers nothing and `add` adds nothing, so a
 *   part that closes its listeners needs no closed flag of its own.
 *
 * Delivery is synchronous and in the order listeners were added. A listener
 * that unsubscribes one not yet called during a delivery stops that one from
 * getting it (the iteration is over the live set, as `Set` iterates).
 */
export class Listeners<T> {
  private readonly fns = new Set<(value: T) => void>();
  private isClosed = false;

  /** `report` is told of every listener that throws, with the value it was given (for the log line's context). */
  constructor(private readonly report: (err: unknown, value: T) => void) {}

  /** True once `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** How many listeners are added. */
  get size(): number {
    return this.fns.size;
  }

  /** Adds `fn`; returns the function that removes it (idempotent). After `close`, adds nothing and returns a no-op. */
  add(fn: (value: T) => void): () => void {
    if (this.isClosed) return () => {};
    this.fns.add(fn);
    return () => {
      this.fns.delete(fn);
    };
  }

  /** Calls every listener with `value`; never throws. Does nothing once closed. */
  deliver(value: T): void {
    if (this.isClosed) return;
    for (const fn of this.fns) {
      try {
        fn(value);
      } catch (err) {
        this.report(err, value);
      }
    }
  }

  /** Drops every listener for good (idempotent). */
  close(): void {
    this.isClosed = true;
    this.fns.clear();
  }
}
