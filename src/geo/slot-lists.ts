/**
 * Many short, growable lists of slot numbers kept in one Int32Array arena:
 * the slots indexed in each H3 cell, for {@link DriverIndex}.
 *
 *   list id ─▶ start[id], len[id], cap = 2^capLog[id]
 *
 *   pool: │ list 0 (cap 4) │ list 7 (cap 2) │ free (cap 8) │ list 3 (cap 16) … │
 *                                             ▲ on the free stack of its size class
 *
 * Why an arena and not an array per cell: a city has tens of thousands of
 * occupied cells holding a few drivers each (2 per cell in the fleet of the
 * memory benchmark); a JS array or a typed array per cell costs 100–200 bytes
 * of object headers and spare capacity before its first entry. Here a cell
 * costs its block (capacity a power of two, at least 2) and three numbers, and
 * a scan reads its slots from one contiguous run of the pool.
 *
 * Blocks double when full and halve when a quarter full, so a cell that was
 * busy once does not keep a large block. Freed blocks go to a stack per size
 * class and are reused before the pool grows; the pool doubles when it must
 * grow, so its size is at most twice the peak it has held.
 *
 * Each slot has a position hint: where it was last put. Removal uses the hint
 * when it is right, else searches the list. A slot normally sits in one list,
 * where the hint is always right (O(1)); a slot in several lists (a broken
 * index that repair() is about to mend) is still found, only slower.
 */
export class SlotLists {
  /** The arena. Read directly by the scan: entries start[id] … start[id] + len[id] − 1. */
  pool: Int32Array = new Int32Array(1024);
  start: Int32Array = new Int32Array(64);
  len: Int32Array = new Int32Array(64);
  private capLog = new Uint8Array(64);
  /** Position of each slot in the list it was last put in (a hint). */
  private hint: Int32Array = new Int32Array(1024);
  /** Next unused offset of the pool. */
  private top = 0;
  /** Free blocks by size class (log2 of the capacity). */
  private readonly freeBlocks: number[][] = [];

  /** Gives list `id` (a fresh id, or one closed before) an empty block. */
  open(id: number): void {
    if (id >= this.start.length) this.growLists(id + 1);
    this.start[id] = this.alloc(MIN_CAP_LOG);
    this.len[id] = 0;
    this.capLog[id] = MIN_CAP_LOG;
  }

  /** Frees list `id`'s block; the list must be empty (the caller's reference count says so). */
  close(id: number): void {
    this.release(this.start[id]!, this.capLog[id]!);
    this.len[id] = 0;
  }

  add(id: number, slot: number): void {
    let n = this.len[id]!;
    if (n === 1 << this.capLog[id]!) this.resize(id, this.capLog[id]! + 1);
    this.pool[this.start[id]! + n] = slot;
    if (slot >= this.hint.length) this.hint = grown(this.hint, slot + 1);
    if (slot >= 0) this.hint[slot] = n;
    this.len[id] = ++n;
  }

  /** Takes one entry of `slot` out of list `id` (the last one moves into its place). False if absent. */
  remove(id: number, slot: number): boolean {
    const i = this.find(id, slot);
    if (i < 0) return false;
    this.removeAt(id, i);
    return true;
  }

  /** Takes the entry at position `i` out of list `id`; the last entry moves into its place. */
  removeAt(id: number, i: number): void {
    const s = this.start[id]!;
    const last = this.len[id]! - 1;
    this.len[id] = last;
    if (i !== last) {
      const moved = this.pool[s + last]!;
      this.pool[s + i] = moved;
      if (moved >= 0) this.hint[moved] = i;
    }
    const capLog = this.capLog[id]!;
    if (capLog > MIN_CAP_LOG && last <= 1 << (capLog - 2)) this.resize(id, capLog - 1);
  }

  /** Position of an entry of `slot` in list `id`, or −1. */
  find(id: number, slot: number): number {
    const s = this.start[id]!;
    const n = this.len[id]!;
    const h = slot >= 0 && slot < this.hint.length ? this.hint[slot]! : -1;
    if (h >= 0 && h < n && this.pool[s + h] === slot) return h;
    for (let i = 0; i < n; i++) if (this.pool[s + i] === slot) return i;
    return -1;
  }

  /** Forgets every list and block (ids are the caller's to forget). */
  clear(): void {
    this.top = 0;
    this.freeBlocks.length = 0;
  }

  private resize(id: number, capLog: number): void {
    const from = this.start[id]!;
    const to = this.alloc(capLog);
    const n = this.len[id]!;
    // alloc() may have replaced the pool: copy within the current one.
    this.pool.copyWithin(to, from, from + n);
    this.release(from, this.capLog[id]!);
    this.start[id] = to;
    this.capLog[id] = capLog;
  }

  private alloc(capLog: number): number {
    const reuse = this.freeBlocks[capLog]?.pop();
    if (reuse !== undefined) return reuse;
    const at = this.top;
    const end = at + (1 << capLog);
    if (end > this.pool.length) this.pool = grown(this.pool, end);
    this.top = end;
    return at;
  }

  private release(start: number, capLog: number): void {
    (this.freeBlocks[capLog] ??= []).push(start);
  }

  private growLists(n: number): void {
    this.start = grown(this.start, n);
    this.len = grown(this.len, n);
    const capLog = new Uint8Array(this.start.length);
    capLog.set(this.capLog);
    this.capLog = capLog;
  }
}

/** Smallest block: two entries (a block of one would move on the second driver of most cells). */
const MIN_CAP_LOG = 1;

/** A copy of `a` with room for at least `n` entries (capacity doubled as needed). */
function grown(a: Int32Array, n: number): Int32Array {
  let size = a.length;
  while (size < n) size *= 2;
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
