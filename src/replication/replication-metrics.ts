import { Counter, Histogram, type Registry } from 'prom-client';

/** What happened to one replicated record. */
export type ReplicationOutcome = 'applied' | 'skipped_stale' | 'skipped_duplicate' | 'skipped_own_region' | 'failed';

/** The replication applier's Prometheus metrics, on the gateway's registry. */
export class ReplicationMetrics {
  /** now − the record's log time (when its origin region appended it), observed as it is applied or skipped. */
  readonly lag: Histogram<'source'>;
  readonly records: Counter<'source' | 'kind' | 'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lag = new Histogram({
      name: 'hexfleet_replication_lag_seconds',
      help: 'Time from a record\'s append in its origin region to its apply here (includes MirrorMaker 2 and this region\'s consumer), by source region. Clock skew between regions adds to it.',
      labelNames: ['source'],
      // The target is p99 ≤ 1 s; MirrorMaker 2 alone adds ≈ 20 ms at low rates, a backlog after an outage minutes.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.records = new Counter({
      name: 'hexfleet_replication_records_total',
      help: 'Replicated records by source region, kind (positions, orders) and outcome: applied; skipped_duplicate (every ping already held, or the order held at that version); skipped_stale (the order held at a newer version); skipped_own_region (a record of this region mirrored back: a loop, never expected); failed (undecodable, dead-lettered).',
      labelNames: ['source', 'kind', 'outcome'],
      registers,
    });
  }
}
