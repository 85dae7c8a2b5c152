/**
 * A log-linear latency histogram, the layout of HdrHistogram simplified:
 * values are whole microseconds, exact below 1,024 µs, then 512 sub-buckets
 * per power of two, so a recorded value is kept to within 0.2 %. Fixed memory
 * (one Float64Array), O(1) record, and mergeable across processes, which is
 * what several load generators need; a sorted array of every sample would be
 * neither.
 */
const EXACT = 1024;
const SUB = 512;
/** 2^31 µs ≈ 36 minutes: anything above is clamped (a benchmark window is far shorter). */
const MAX_US = 2 ** 31 - 1;
const SIZE = EXACT + 22 * SUB;

export type HistogramPairs = [index: number, count: number][];

export class Histogram {
  private readonly counts = new Float64Array(SIZE);
  private total = 0;
  private maxUs = 0;
  private sumUs = 0;

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    const us = Math.min(MAX_US, Math.max(0, Math.round(ms * 1000)));
    this.counts[indexOf(us)]! += 1;
    this.total++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  get count(): number {
    return this.total;
  }

  /** The value (ms) at or below which a fraction `q` of the samples fall. NaN when empty. */
  percentile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(valueOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  get maxMs(): number {
    return this.total === 0 ? NaN : this.maxUs / 1000;
  }

  get meanMs(): number {
    return this.total === 0 ? NaN : this.sumUs / this.total / 1000;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < SIZE; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sumUs += other.sumUs;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /** A compact form for IPC: the non-empty buckets plus the exact max and sum. */
  toJSON(): { pairs: HistogramPairs; maxUs: number; sumUs: number } {
    const pairs: HistogramPairs = [];
    for (let i = 0; i < SIZE; i++) if (this.counts[i]! > 0) pairs.push([i, this.counts[i]!]);
    return { pairs, maxUs: this.maxUs, sumUs: this.sumUs };
  }

  static fromJSON(data: { pairs: HistogramPairs; maxUs: number; sumUs: number }): Histogram {
    const h = new Histogram();
    for (const [i, c] of data.pairs) {
      h.counts[i]! += c;
      h.total += c;
    }
    h.maxUs = data.maxUs;
    h.sumUs = data.sumUs;
    return h;
  }
}

function indexOf(us: number): number {
  if (us < EXACT) return us;
  // e ≥ 1 such that us >> e lies in [512, 1023].
  const e = 31 - Math.clz32(us) - 9;
  return EXACT + (e - 1) * SUB + ((us >>> e) - SUB);
}

/** The midpoint of a bucket, µs. */
function valueOf(index: number): number {
  if (index < EXACT) return index;
  const e = Math.floor((index - EXACT) / SUB) + 1;
  const m = ((index - EXACT) % SUB) + SUB;
  return m * 2 ** e + 2 ** (e - 1);
}
