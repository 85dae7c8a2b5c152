import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of dispatch, on the gateway's registry. */
export class DispatchMetrics {
  readonly matches: Counter<'outcome' | 'mode'>;
  readonly matchLatency: Histogram<'mode'>;
  readonly offers: Counter<'outcome'>;
  readonly etaSource: Counter<'source'>;
  readonly openAssignments: Gauge;
  readonly poolQueue: Gauge;
  readonly poolUtilization: Gauge;
  readonly breakerState: Gauge<'state'>;
  readonly reconcileFindings: Counter<'kind' | 'action'>;

  constructor(registry: Registry, sample: { poolQueue: () => number; poolUtilization: () => number; openAssignments: () => Promise<number>; reservedKnown?: () => number }) {
    const registers = [registry];
    this.matches = new Counter({ name: 'hexfleet_matches_total', help: 'Match requests by outcome (offered, existing, no_driver, in_flight, conflict, overloaded, error).', labelNames: ['outcome', 'mode'], registers });
    this.matchLatency = new Histogram({
      name: 'hexfleet_match_seconds', help: 'POST /v1/match latency, request read to answer written (batch mode includes the window).',
      labelNames: ['mode'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    this.offers = new Counter({
      name: 'hexfleet_offers_total',
      help: 'Offers by outcome (offered, accepted, rejected, expired; refused: a reservation the backend refused, the driver reserved or unavailable meanwhile).',
      labelNames: ['outcome'], registers,
    });
    if (sample.reservedKnown) {
      const known = sample.reservedKnown;
      new Gauge({
        name: 'hexfleet_reserved_drivers_known', help: 'Drivers this gateway believes reserved (from every gateway\'s saga events), which candidate search skips.', registers,
        collect() { this.set(known()); },
      });
    }
    this.etaSource = new Counter({ name: 'hexfleet_eta_source_total', help: 'ETA batches by source (provider, fallback).', labelNames: ['source'], registers });
    this.openAssignments = new Gauge({
      name: 'hexfleet_open_assignments', help: 'Orders searching, offered or accepted (all gateways).', registers,
      async collect() {
        this.set(await sample.openAssignments());
      },
    });
    this.poolQueue = new Gauge({ name: 'hexfleet_dispatch_pool_queue', help: 'Tasks waiting for a dispatch worker.', registers, collect() { this.set(sample.poolQueue()); } });
    this.poolUtilization = new Gauge({ name: 'hexfleet_dispatch_pool_utilization', help: 'Dispatch worker pool utilisation (0..1).', registers, collect() { this.set(sample.poolUtilization()); } });
    this.breakerState = new Gauge({ name: 'hexfleet_eta_breaker_state', help: 'Routing service circuit breaker: 1 for the current state.', labelNames: ['state'], registers });
    this.reconcileFindings = new Counter({ name: 'hexfleet_reconcile_findings_total', help: 'Inconsistencies found by reconciliation, by kind and action.', labelNames: ['kind', 'action'], registers });
  }
}
