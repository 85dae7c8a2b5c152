import { metricSum, type Scrape } from '../../kit/metrics-scrape.js';

/**
 * A Prometheus histogram read from gateway scrapes: what it counted between
 * two scrapes of each gateway, summed over gateways and over every series
 * carrying `labels`. Its quantiles are estimates: Prometheus keeps counts per
 * bucket only, so a quantile is known to lie in one bucket and is placed in
 * it by linear interpolation, as PromQL's histogram_quantile() does.
 */
export interface BucketCounts {
  /** Cumulative counts by upper bound (seconds, ascending; +Inf last). */
  buckets: [le: number, count: number][];
  count: number;
  /** Sum of the observed values (seconds). */
  sum: number;
}

/** A quantile of a {@link BucketCounts}, with the bucket it lies in (ms). */
export interface BucketQuantile {
  ms: number;
  lowerMs: number;
  upperMs: number;
}

/** Histogram `name` (base name, without _bucket) between `first[i]` and `end[i]` of each gateway i. */
export function histogramDelta(first: readonly Scrape[], end: readonly Scrape[], name: string, labels: Record<string, string> = {}): BucketCounts {
  const les = new Set<string>();
  for (const s of end) {
    for (const key of s.series.keys()) {
      if (!key.startsWith(`${name}_bucket{`)) continue;
      const le = /le="([^"]+)"/.exec(key)?.[1];
      if (le !== undefined) les.add(le);
    }
  }
  const delta = (metric: string, extra: Record<string, string> = {}): number =>
    end.reduce((n, s, i) => n + metricSum(s, metric, { ...labels, ...extra }) - metricSum(first[i]!, metric, { ...labels, ...extra }), 0);
  const buckets = [...les]
    .map((le): [number, number] => [le === '+Inf' ? Infinity : Number(le), delta(`${name}_bucket`, { le })])
    .sort((a, b) => a[0] - b[0]);
  return { buckets, count: delta(`${name}_count`), sum: delta(`${name}_sum`) };
}

/** Bucket counts of several windows (or gateways) added together. */
export function sumBuckets(hs: readonly BucketCounts[]): BucketCounts {
  const byLe = new Map<number, number>();
  for (const h of hs) for (const [le, n] of h.buckets) byLe.set(le, (byLe.get(le) ?? 0) + n);
  return {
    buckets: [...byLe].sort((a, b) => a[0] - b[0]),
    count: hs.reduce((n, h) => n + h.count, 0),
    sum: hs.reduce((n, h) => n + h.sum, 0),
  };
}

/** The `q` quantile, NaN when nothing was counted; a quantile in the +Inf bucket reports the last finite bound. */
export function bucketQuantile(h: BucketCounts, q: number): BucketQuantile {
  if (h.count <= 0) return { ms: NaN, lowerMs: NaN, upperMs: NaN };
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of h.buckets) {
    if (cumulative >= rank) {
      if (!Number.isFinite(le)) return { ms: lower * 1000, lowerMs: lower * 1000, upperMs: Infinity };
      const inBucket = cumulative - below;
      const at = inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
      return { ms: at * 1000, lowerMs: lower * 1000, upperMs: le * 1000 };
    }
    lower = le;
    below = cumulative;
  }
  return { ms: NaN, lowerMs: NaN, upperMs: NaN };
}

/** "2.1 ms (1–2.5)": the estimate and its bucket. */
export function fmtBucketQuantile(x: BucketQuantile): string {
  if (!Number.isFinite(x.ms)) return 'n/a';
  const n = (v: number): string => (Number.isFinite(v) ? String(Number(v.toFixed(2))) : '∞');
  return `${x.ms < 10 ? x.ms.toFixed(2) : x.ms.toFixed(1)} ms (bucket ${n(x.lowerMs)}–${n(x.upperMs)})`;
}
