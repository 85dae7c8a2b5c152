/** Counters of a traffic replay, shared by every replayed driver. */
export class TrafficStats {
  connects = 0;
  connectFailures = 0;
  /** Sockets the gateway closed before the replay was done with them. */
  disconnects = 0;
  batchesSent = 0;
  pingsSent = 0;
  batchesAcked = 0;
  /** Batches answered with an error carrying their highest seq, by code. */
  readonly batchErrors: Record<string, number> = {};
  /** Single pings refused (an error with the seq of a ping other than a batch's highest), by code. */
  readonly pingRejections: Record<string, number> = {};
  /** Batches that could not be sent: their driver's socket never opened or had closed. */
  notSent = 0;
  /** send → ack, ms. */
  readonly ackLatencyMs = new LatencyHistogram();
  /** How late each batch went out after its scheduled time, ms. */
  readonly sendLagMs = new LatencyHistogram();

  batchError(code: string): void {
    this.batchErrors[code] = (this.batchErrors[code] ?? 0) + 1;
  }

  pingRejected(code: string): void {
    this.pingRejections[code] = (this.pingRejections[code] ?? 0) + 1;
  }

  get errors(): number {
    return Object.values(this.batchErrors).reduce((a, b) => a + b, 0);
  }
}

/** Latency percentiles in ms, with how many samples they are over. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Sub-millisecond buckets of 10 µs below 1 ms; above, buckets 1 % wide. */
const FINE_BUCKETS = 100;
const GROWTH = Math.log(1.01);

/**
 * Latencies in buckets 1 % wide (10 µs below 1 ms), so a replay of hours
 * keeps a few kilobytes rather than one number per batch. A percentile is
 * the lower bound of its bucket (nearest rank): at most 1 % low; max is exact.
 */
export class LatencyHistogram {
  private readonly counts: number[] = [];
  private total = 0;
  private maxMs = 0;

  record(ms: number): void {
    const v = Math.max(0, ms);
    const i = v < 1 ? Math.floor(v * FINE_BUCKETS) : FINE_BUCKETS + Math.floor(Math.log(v) / GROWTH);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
    if (v > this.maxMs) this.maxMs = v;
  }

  get count(): number {
    return this.total;
  }

  percentiles(): Percentiles {
    const at = (q: number): number => {
      const rank = Math.max(1, Math.ceil(q * this.total));
      let seen = 0;
      for (let i = 0; i < this.counts.length; i++) {
        seen += this.counts[i] ?? 0;
        if (seen >= rank) return Math.min(this.maxMs, i < FINE_BUCKETS ? i / FINE_BUCKETS : Math.exp((i - FINE_BUCKETS) * GROWTH));
      }
      return this.maxMs;
    };
    if (this.total === 0) return { count: 0, p50: 0, p99: 0, p999: 0, max: 0 };
    return { count: this.total, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: this.maxMs };
  }
}
