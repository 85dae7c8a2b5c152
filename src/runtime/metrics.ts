import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric of one gateway, on its own registry (several
 * gateways can live in one test process). Hot paths add counts per frame or
 * per store write, never per ping.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly pingsReceived = new Counter({
    name: 'hexfleet_pings_received_total', help: 'Pings received in driver frames, valid or not.', registers: [this.registry],
  });
  readonly pingsApplied = new Counter({
    name: 'hexfleet_pings_applied_total', help: 'Pings applied to the store (seq above the last applied).', registers: [this.registry],
  });
  readonly pingsDuplicate = new Counter({
    name: 'hexfleet_pings_duplicate_total', help: 'Pings acknowledged as duplicates (seq already applied).', registers: [this.registry],
  });
  readonly pingsRejected = new Counter({
    name: 'hexfleet_pings_rejected_total', help: 'Pings rejected (invalid, rate limited, or in a batch the store did not confirm), by error code.', labelNames: ['code'], registers: [this.registry],
  });
  readonly framesRejected = new Counter({
    name: 'hexfleet_frames_rejected_total', help: 'WebSocket frames answered with an error, by endpoint (driver, track) and error code.',
    labelNames: ['endpoint', 'code'], registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'hexfleet_batch_size_pings', help: 'Pings per driver frame.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers: [this.registry],
  });
  readonly storeWriteSize = new Histogram({
    name: 'hexfleet_store_write_pings', help: 'Pings per store write (frames of many drivers are written together).',
    buckets: [1, 8, 32, 128, 512, 2048, 8192], registers: [this.registry],
  });
  readonly applyLatency = new Histogram({
    name: 'hexfleet_batch_apply_seconds', help: 'Time from a frame being accepted to its pings being stored.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly driverConnections = new Gauge({
    name: 'hexfleet_driver_connections', help: 'Open driver WebSocket connections.', registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'hexfleet_store_errors_total', help: 'Store calls that failed, by operation.', labelNames: ['op'], registers: [this.registry],
  });
  readonly pendingPings = new Gauge({
    name: 'hexfleet_ingest_pending_pings', help: 'Pings accepted and waiting for the store.', registers: [this.registry],
  });
  readonly sweptDrivers = new Counter({
    name: 'hexfleet_swept_drivers_total', help: 'Drivers taken out of the index (offline) or forgotten (retention).',
    labelNames: ['outcome'], registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: 'hexfleet_driver_disconnects_total', help: 'Driver connections closed by the gateway, by reason.',
    labelNames: ['reason'], registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hexfleet_' });
  }
}
