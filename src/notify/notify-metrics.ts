import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The webhook notifier's own Prometheus metrics. Consumer lag and DLQ depth
 * are the event log's (LogMetrics: `hexfleet_log_consumer_lag_records`,
 * `hexfleet_log_dlq_records`), labelled with the notifier's group and topics.
 */
export class NotifyMetrics {
  /** Per event: `delivered` (a 2xx) or `dead_lettered`. */
  readonly deliveries: Counter<'outcome'>;
  /** Per HTTP attempt: `ok`, or the DeliveryError code (`rejected`, `throttled`, `server_error`, `timeout`, `connection`). */
  readonly attempts: Counter<'result'>;
  /** Dead letters by reason code (`undecodable`, `rejected`, `attempts_exhausted`). */
  readonly deadLetters: Counter<'reason'>;
  readonly latency: Histogram;
  readonly breakerState: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.deliveries = new Counter({ name: 'hexfleet_webhook_deliveries_total', help: 'Order events handled by the webhook notifier, by outcome (delivered, dead_lettered).', labelNames: ['outcome'], registers });
    this.attempts = new Counter({ name: 'hexfleet_webhook_attempts_total', help: 'Webhook HTTP attempts, by result (ok, rejected, throttled, server_error, timeout, connection).', labelNames: ['result'], registers });
    this.deadLetters = new Counter({ name: 'hexfleet_webhook_dead_letters_total', help: 'Order events sent to the dead-letter topic, by reason.', labelNames: ['reason'], registers });
    this.latency = new Histogram({
      name: 'hexfleet_webhook_delivery_seconds',
      help: 'From the commit of an order transition (event at) to the 2xx of its webhook: log, queueing, retries and the receiver together.',
      // From a healthy path (tens of ms) to retries with the default 30 s backoff cap.
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    this.breakerState = new Gauge({ name: 'hexfleet_webhook_breaker_state', help: 'Webhook circuit breaker: 0 closed, 1 open (deliveries wait), 2 half-open (one probe in flight).', registers });
  }
}
