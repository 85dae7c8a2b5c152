import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of live tracking, on the gateway's registry. Counted per frame
 * sent or dropped, never per byte.
 */
export class TrackingMetrics {
  readonly connections: Gauge;
  readonly subscriptions: Gauge<'kind'>;
  readonly deliveries: Counter<'type'>;
  readonly dropped: Counter<'reason'>;
  readonly disconnects: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connections = new Gauge({ name: 'hexfleet_tracking_connections', help: 'Open /v1/track connections.', registers });
    this.subscriptions = new Gauge({
      name: 'hexfleet_tracking_subscriptions', help: 'Open tracking subscriptions, by kind (order, area).', labelNames: ['kind'], registers,
    });
    this.deliveries = new Counter({
      name: 'hexfleet_tracking_deliveries_total', help: 'Frames sent to tracking subscribers, by type (position, status, assignment).', labelNames: ['type'], registers,
    });
    this.dropped = new Counter({
      name: 'hexfleet_tracking_dropped_total',
      help: 'Positions replaced by a newer one before they were sent, by reason (throttled: rate limit; backpressure: the subscriber was not reading).',
      labelNames: ['reason'], registers,
    });
    this.disconnects = new Counter({
      name: 'hexfleet_tracking_disconnects_total', help: 'Tracking connections closed by the gateway, by reason (slow_consumer, token_expired, protocol_violation).',
      labelNames: ['reason'], registers,
    });
  }
}
