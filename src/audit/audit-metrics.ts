import { Counter, Gauge, type Registry } from 'prom-client';

/** The audit trail's and the authentication monitor's Prometheus metrics, on the gateway's registry. */
export class AuditMetrics {
  readonly events: Counter<'action' | 'outcome'>;
  readonly dropped: Counter<'sink'>;
  readonly kafkaBuffered: Gauge;
  readonly authFailures: Counter<'reason'>;
  readonly bursts: Counter<'by'>;
  readonly cooloffRefusals: Counter<'endpoint'>;
  readonly coolingOff: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.events = new Counter({ name: 'hexfleet_audit_events_total', help: 'Audit entries recorded, by action and outcome.', labelNames: ['action', 'outcome'], registers });
    this.dropped = new Counter({ name: 'hexfleet_audit_dropped_total', help: 'Audit lines a sink could not take (Kafka buffer full, file write failed), by sink.', labelNames: ['sink'], registers });
    this.kafkaBuffered = new Gauge({ name: 'hexfleet_audit_kafka_buffered_lines', help: 'Audit lines held for Kafka (slow or down), at most HEXFLEET_AUDIT_KAFKA_BUFFER.', registers });
    this.authFailures = new Counter({ name: 'hexfleet_auth_failures_total', help: 'Rejected authentications (HTTP 401, refused upgrades), by reason.', labelNames: ['reason'], registers });
    this.bursts = new Counter({
      name: 'hexfleet_auth_failure_bursts_total', help: 'HEXFLEET_AUTH_FAILURE_BURST failed authentications within HEXFLEET_AUTH_FAILURE_WINDOW_MS, by address or subject.',
      labelNames: ['by'], registers,
    });
    this.cooloffRefusals = new Counter({ name: 'hexfleet_auth_cooloff_refusals_total', help: 'Requests and upgrades refused with auth_cooloff, by endpoint (http, ws).', labelNames: ['endpoint'], registers });
    this.coolingOff = new Gauge({ name: 'hexfleet_auth_cooloff_addresses', help: 'Addresses refused right now (cooling off after a burst of failed authentications).', registers });
  }
}
