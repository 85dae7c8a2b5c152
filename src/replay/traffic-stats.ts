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
  readonly ackLatencyMs: number[] = [];
  /** How late each batch went out after its scheduled time, ms. */
  readonly sendLagMs: number[] = [];

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

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles by rank (nearest-rank) of samples, in their unit; zeros when there are none. */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { count: 0, p50: 0, p99: 0, p999: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted[sorted.length - 1]! };
}
