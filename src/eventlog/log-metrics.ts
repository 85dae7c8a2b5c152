import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The event log's Prometheus metrics, on the gateway's registry. */
export class LogMetrics {
  readonly appendLatency: Histogram<'topic'>;
  readonly appendedRecords: Counter<'topic'>;
  readonly errors: Counter<'op'>;
  readonly breakerOpen: Gauge;
  readonly consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  readonly dlqDepth: Gauge<'topic'>;
  readonly outboxDepth: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.appendLatency = new Histogram({
      name: 'hexfleet_log_append_seconds', help: 'Time until the event log confirmed an append (acks from all in-sync replicas), by topic.',
      labelNames: ['topic'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    this.appendedRecords = new Counter({ name: 'hexfleet_log_appended_records_total', help: 'Records the event log confirmed, by topic.', labelNames: ['topic'], registers });
    this.errors = new Counter({ name: 'hexfleet_log_errors_total', help: 'Failed event log operations (append, consume, relay, deliver), by operation.', labelNames: ['op'], registers });
    this.breakerOpen = new Gauge({ name: 'hexfleet_log_breaker_open', help: '1 while appends fail fast because the event log kept failing (circuit breaker open).', registers });
    this.consumerLag = new Gauge({
      name: 'hexfleet_log_consumer_lag_records', help: 'Records in the log not yet processed by a consumer group, per partition.',
      labelNames: ['group', 'topic', 'partition'], registers,
    });
    this.dlqDepth = new Gauge({ name: 'hexfleet_log_dlq_records', help: 'Records in a dead-letter topic (its end offsets summed).', labelNames: ['topic'], registers });
    this.outboxDepth = new Gauge({ name: 'hexfleet_outbox_events', help: 'Order events committed but not yet confirmed by the event log.', registers });
  }
}
