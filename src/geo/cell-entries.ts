/**
 * The entries of every cell's list, in one arena: per indexed driver a copy
 * of what a scan reads (position, cos(lat), fix time, status and vehicle)
 * and its slot number, so that a scan of a cell reads one contiguous run of
 * memory instead of jumping to each driver's slot.
 *
 *   entry (40 bytes)  │ lat │ lng │ cos(lat) │ ts │ slot:int32 meta:int32 │   f64 × 4, i32 × 2
 *
 *   list id ─▶ span[2·id] first entry, span[2·id + 1] count; capacity 2^capLog[id]
 *   arena: │ list 0 (cap 4) │ list 7 (cap 2) │ free (cap 8) │ list 3 (cap 16) … │
 *                                             ▲ on the free stack of its size class
 *
 * Why copies in an arena: profiling showed a query's time going into cache
 * misses, two per driver read (its slot's position, then its status), since
 * slots are spread over megabytes; the ~80 drivers of a nearest-10 search
 * now come from 7–19 short contiguous runs. And why not an array per cell: a
 * city has tens of thousands of occupied cells holding a few drivers each
 * (two per cell in the memory benchmark's fleet), and a JS array or typed
 * array per cell costs 100–200 bytes of headers and spare room before its
 * first entry.
 *
 * Blocks double when full and halve when a quarter full, so a cell that was
 * busy once does not keep a large block. Freed blocks go to a stack per size
 * class and are reused before the arena grows; the arena doubles when it must
 * grow by half, so it is at most 1.5 times the peak it has held.
 *
 * Each slot has a position hint: where its entry was last put. Lookups use
 * the hint when it is right, else search the list. A slot normally has one
 * entry, where the hint is always right (O(1)); a slot with several (a broken
 * index that repair() is about to mend) is still found, only slower.
 */
export class CellEntries {
  /** The arena as doubles (entry e at e·STRIDE) and as int32 (slot at e·I32_STRIDE + SLOT_I32, meta at + META_I32). Read directly by the scan. */
  f64: Float64Array;
  i32: Int32Array;
  /** First entry and entry count of each list, side by side (one cache line for both). */
  span: Int32Array = new Int32Array(128);
  private capLog = new Uint8Array(64);
  /** Position of each slot's entry in the list it was last put in (a hint). */
  private hint: Int32Array = new Int32Array(1024);
  /** Next unused entry of the arena. */
  private top = 0;
  /** Free blocks by size class (log2 of the capacity). */
  private readonly freeBlocks: number[][] = [];

  constructor() {
    this.f64 = new Float64Array(STRIDE * 1024);
    this.i32 = new Int32Array(this.f64.buffer);
  }

  /** Gives list `id` (a fresh id, or one closed before) an empty block. */
  open(id: number): void {
    if (id >= this.capLog.length) this.growLists(id + 1);
    this.span[2 * id] = this.alloc(MIN_CAP_LOG);
    this.span[2 * id + 1] = 0;
    this.capLog[id] = MIN_CAP_LOG;
  }

  /** Frees list `id`'s block; the list must be empty (the caller's reference count says so). */
  close(id: number): void {
    this.release(this.span[2 * id]!, this.capLog[id]!);
    this.span[2 * id + 1] = 0;
  }

  /** Appends an entry for `slot` to list `id`. */
  add(id: number, slot: number, lat: number, lng: number, ts: number, meta: number): void {
    const n = this.span[2 * id + 1]!;
    if (n === 1 << this.capLog[id]!) this.resize(id, this.capLog[id]! + 1);
    const e = this.span[2 * id]! + n;
    this.write(e, lat, lng, ts);
    this.i32[e * I32_STRIDE + SLOT_I32] = slot;
    this.i32[e * I32_STRIDE + META_I32] = meta;
    if (slot >= this.hint.length) this.hint = grown(this.hint, slot + 1);
    if (slot >= 0) this.hint[slot] = n;
    this.span[2 * id + 1] = n + 1;
  }

  /** Rewrites the position of the entry at `i` of list `id`. */
  setPosition(id: number, i: number, lat: number, lng: number, ts: number): void {
    this.write(this.span[2 * id]! + i, lat, lng, ts);
  }

  /** Rewrites the status and vehicle of the entry at `i` of list `id`. */
  setMeta(id: number, i: number, meta: number): void {
    this.i32[(this.span[2 * id]! + i) * I32_STRIDE + META_I32] = meta;
  }

  /** Entries the arena has room for (it grows by doubling, never shrinks). */
  get capacity(): number {
    return this.f64.length / STRIDE;
  }

  /** Entries in list `id`. */
  length(id: number): number {
    return this.span[2 * id + 1]!;
  }

  /** The slot of the entry at `i` of list `id`. */
  slotAt(id: number, i: number): number {
    return this.i32[(this.span[2 * id]! + i) * I32_STRIDE + SLOT_I32]!;
  }

  /** Position of an entry of `slot` in list `id`, or −1. */
  find(id: number, slot: number): number {
    const s = this.span[2 * id]!;
    const n = this.span[2 * id + 1]!;
    const h = slot >= 0 && slot < this.hint.length ? this.hint[slot]! : -1;
    if (h >= 0 && h < n && this.i32[(s + h) * I32_STRIDE + SLOT_I32] === slot) return h;
    for (let i = 0; i < n; i++) if (this.i32[(s + i) * I32_STRIDE + SLOT_I32] === slot) return i;
    return -1;
  }

  /** Takes the entry at position `i` out of list `id`; the last entry moves into its place. */
  removeAt(id: number, i: number): void {
    const s = this.span[2 * id]!;
    const last = this.span[2 * id + 1]! - 1;
    this.span[2 * id + 1] = last;
    if (i !== last) {
      this.f64.copyWithin((s + i) * STRIDE, (s + last) * STRIDE, (s + last + 1) * STRIDE);
      const moved = this.i32[(s + i) * I32_STRIDE + SLOT_I32]!;
      if (moved >= 0) this.hint[moved] = i;
    }
    const capLog = this.capLog[id]!;
    if (capLog >= MIN_CAP_LOG + 2 && last <= 1 << (capLog - 2)) this.resize(id, capLog - 1);
  }

  /** Forgets every list and block (ids are the caller's to forget). */
  clear(): void {
    this.top = 0;
    this.freeBlocks.length = 0;
  }

  private write(e: number, lat: number, lng: number, ts: number): void {
    const b = e * STRIDE;
    this.f64[b] = lat;
    this.f64[b + 1] = lng;
    this.f64[b + 2] = Math.cos(lat * RAD);
    this.f64[b + 3] = ts;
  }

  private resize(id: number, capLog: number): void {
    const from = this.span[2 * id]!;
    const to = this.alloc(capLog);
    const n = this.span[2 * id + 1]!;
    // alloc() may have replaced the arena: copy within the current one.
    this.f64.copyWithin(to * STRIDE, from * STRIDE, (from + n) * STRIDE);
    this.release(from, this.capLog[id]!);
    this.span[2 * id] = to;
    this.capLog[id] = capLog;
  }

  private alloc(capLog: number): number {
    const reuse = this.freeBlocks[capLog]?.pop();
    if (reuse !== undefined) return reuse;
    const at = this.top;
    const end = at + (1 << capLog);
    if (end * STRIDE > this.f64.length) {
      // By half: a doubled arena of a million drivers would leave ~40 MB unused until it fills.
      let size = this.f64.length;
      while (size < end * STRIDE) size = STRIDE * Math.ceil((size * 1.5) / STRIDE);
      const f64 = new Float64Array(size);
      f64.set(this.f64);
      this.f64 = f64;
      this.i32 = new Int32Array(f64.buffer);
    }
    this.top = end;
    return at;
  }

  private release(start: number, capLog: number): void {
    (this.freeBlocks[capLog] ??= []).push(start);
  }

  private growLists(n: number): void {
    this.span = grown(this.span, 2 * n);
    const capLog = new Uint8Array(this.span.length / 2);
    capLog.set(this.capLog);
    this.capLog = capLog;
  }
}

/** Doubles per entry: lat, lng, cos(lat), ts, then slot and meta as two int32. */
export const STRIDE = 5;
/** The same entry seen as int32: 10 of them, the slot at 8 and status·vehicle at 9. */
export const I32_STRIDE = 2 * STRIDE;
export const SLOT_I32 = 8;
export const META_I32 = 9;
const RAD = Math.PI / 180;
/**
 * Smallest block: one entry. At fleet density most occupied cells hold one
 * to three drivers (a million over 50 metros: a quarter of the cells hold
 * one), so a larger first block would mostly stay empty.
 */
const MIN_CAP_LOG = 0;

/** A copy of `a` with room for at least `n` entries (capacity doubled as needed). */
function grown(a: Int32Array, n: number): Int32Array {
  let size = a.length;
  while (size < n) size *= 2;
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
