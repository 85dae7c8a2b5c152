import { CellEntries } from './cell-entries.js';

/**
 * H3 cells by small integer id, each with the list of drivers indexed in it
 * (their entries, {@link CellEntries}).
 *
 * An id lives while something refers to its cell, counted: a driver whose
 * record is in the cell, each entry of the cell's list, and each cached ring
 * ({@link RingCache}) that contains the cell. When the count drops to zero the
 * id, its string and its list block are freed and the id is reused. So the
 * table holds the occupied cells plus the cells of cached rings, never every
 * cell a driver has ever passed through.
 *
 * Ids instead of strings on the hot path: a cached ring is an Int32Array of
 * ids, and the scan goes from id to list without hashing a string.
 */
export class CellLists {
  /** The entries of each cell id (read directly by the scan). */
  readonly entries = new CellEntries();
  private readonly byCell = new Map<string, number>();
  private cells: (string | undefined)[] = [];
  private refs = new Int32Array(64);
  private readonly freeIds: number[] = [];

  /** The id of `cell`, with one more reference to it (a new id and an empty list if unknown). */
  retain(cell: string): number {
    let id = this.byCell.get(cell);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.cells.length;
      if (id >= this.refs.length) {
        const refs = new Int32Array(this.refs.length * 2);
        refs.set(this.refs);
        this.refs = refs;
      }
      this.byCell.set(cell, id);
      this.cells[id] = cell;
      this.refs[id] = 0;
      this.entries.open(id);
    }
    this.refs[id]! += 1;
    return id;
  }

  /** One more reference to a live id. */
  retainId(id: number): void {
    this.refs[id]! += 1;
  }

  /** One reference fewer; the last one frees the id. */
  release(id: number): void {
    const left = this.refs[id]! - 1;
    this.refs[id] = left;
    if (left > 0) return;
    this.byCell.delete(this.cells[id]!);
    this.cells[id] = undefined;
    this.entries.close(id);
    this.freeIds.push(id);
  }

  /** The id of a known cell, or −1. */
  idOf(cell: string): number {
    return this.byCell.get(cell) ?? -1;
  }

  /** The cell of a live id. */
  cellOf(id: number): string {
    return this.cells[id]!;
  }

  /** Puts an entry for `slot` into cell `id`'s list (the entry holds a reference). */
  add(id: number, slot: number, lat: number, lng: number, ts: number, meta: number): void {
    this.retainId(id);
    this.entries.add(id, slot, lat, lng, ts, meta);
  }

  /** Takes one entry of `slot` out of cell `id`'s list; false if there was none. */
  remove(id: number, slot: number): boolean {
    const i = this.entries.find(id, slot);
    if (i < 0) return false;
    this.removeAt(id, i);
    return true;
  }

  /** Takes the entry at position `i` out of cell `id`'s list. */
  removeAt(id: number, i: number): void {
    this.entries.removeAt(id, i);
    this.release(id);
  }

  has(id: number, slot: number): boolean {
    return this.entries.find(id, slot) >= 0;
  }

  /** Every live id (for repair: a walk over all lists). */
  *liveIds(): Generator<number> {
    for (let id = 0; id < this.cells.length; id++) if (this.cells[id] !== undefined) yield id;
  }

  /** Cells with a live id. */
  get size(): number {
    return this.byCell.size;
  }

  clear(): void {
    this.byCell.clear();
    this.cells = [];
    this.freeIds.length = 0;
    this.refs.fill(0);
    this.entries.clear();
  }
}
