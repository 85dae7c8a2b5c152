/**
 * The nearest `limit` candidates seen so far: a max-heap of (distance, item)
 * whose top is the worst kept, so a candidate farther than it is rejected in
 * one comparison. Order is nearest first, ties by driver id (the order of
 * DriverStore.nearby). Items are integers (DriverIndex: entry numbers);
 * `nameOf` gives an item's driver id, asked only on equal distances. Reused
 * across searches: no allocation per query once it has grown to the most
 * candidates a search has kept (never to `limit` itself, which may be huge).
 */
export class NearestHeap {
  private slots = new Int32Array(16);
  private dists = new Float64Array(16);
  private n = 0;
  private limit = 0;

  constructor(private readonly nameOf: (item: number) => string) {}

  /** Empties the heap for a search keeping `limit` candidates (room grows with what is kept, not with `limit`). */
  reset(limit: number): void {
    this.n = 0;
    this.limit = limit;
  }

  get size(): number {
    return this.n;
  }

  /** Full, and the worst kept candidate is within `d`: `limit` candidates lie within `d`. */
  fullWithin(d: number): boolean {
    return this.n >= this.limit && this.dists[0]! <= d;
  }

  /**
   * The distance beyond which nothing can be kept: the worst kept one once
   * full (a candidate as far may still enter on a smaller id), else `radiusM`.
   */
  cutoff(radiusM: number): number {
    return this.n >= this.limit ? this.dists[0]! : radiusM;
  }

  /** Keeps (item, d) if it is among the nearest `limit` so far; true if kept. */
  offer(slot: number, d: number): boolean {
    if (this.n < this.limit) {
      if (this.n === this.slots.length) this.grow();
      this.siftUp(this.n++, slot, d);
      return true;
    }
    if (!this.before(d, slot, this.dists[0]!, this.slots[0]!)) return false;
    this.siftDown(slot, d);
    return true;
  }

  /**
   * Empties the heap into `slots` (items) and `dists`, nearest first; returns how many.
   * The arrays must hold `size` entries.
   */
  drain(slots: Int32Array, dists: Float64Array): number {
    const count = this.n;
    for (let i = count - 1; i >= 0; i--) {
      slots[i] = this.slots[0]!;
      dists[i] = this.dists[0]!;
      const last = --this.n;
      if (last > 0) this.siftDown(this.slots[last]!, this.dists[last]!);
    }
    return count;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const dists = new Float64Array(this.dists.length * 2);
    slots.set(this.slots);
    dists.set(this.dists);
    this.slots = slots;
    this.dists = dists;
  }

  /** (da, a) comes before (db, b): nearer, or as near with a smaller driver id. */
  private before(da: number, a: number, db: number, b: number): boolean {
    if (da !== db) return da < db;
    return this.nameOf(a) < this.nameOf(b);
  }

  private siftUp(i: number, slot: number, d: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(this.dists[p]!, this.slots[p]!, d, slot)) break;
      this.slots[i] = this.slots[p]!;
      this.dists[i] = this.dists[p]!;
      i = p;
    }
    this.slots[i] = slot;
    this.dists[i] = d;
  }

  /** Puts (slot, d) at the root and sinks it; the heap keeps its size. */
  private siftDown(slot: number, d: number): void {
    const n = this.n;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(this.dists[c]!, this.slots[c]!, this.dists[c + 1]!, this.slots[c + 1]!)) c++;
      if (!this.before(d, slot, this.dists[c]!, this.slots[c]!)) break;
      this.slots[i] = this.slots[c]!;
      this.dists[i] = this.dists[c]!;
      i = c;
    }
    this.slots[i] = slot;
    this.dists[i] = d;
  }
}
