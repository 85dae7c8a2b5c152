import { Counter, type Registry } from 'prom-client';

/** Ownership's Prometheus metrics, on the gateway's registry. */
export class OwnershipMetrics {
  /**
   * Moves of a driver's home this region applied: its own (a driver
   * reconnected here while its home was unreachable) and the other regions'
   * (replicated). A region that loses a driver counts the move once the
   * record reaches it.
   */
  readonly moves: Counter<'from' | 'to'>;
  /** First claims (epoch 1) this region made. */
  readonly claims: Counter;
  /**
   * Records of another region at the epoch this region holds for another
   * home (two regions claimed or moved one driver at once, neither having
   * seen the other's record): each keeps its own until a higher epoch, so
   * both may dispatch the driver. Expected 0; see docs/regions.md.
   */
  readonly conflicts: Counter<'held' | 'incoming'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.moves = new Counter({ name: 'hexfleet_ownership_moves_total', help: 'Drivers whose home region moved (a higher epoch applied here), by old and new region.', labelNames: ['from', 'to'], registers });
    this.conflicts = new Counter({
      name: 'hexfleet_ownership_conflicts_total', help: 'Ownership records of another region at the epoch held here for another home (concurrent claims): not applied; expected 0.',
      labelNames: ['held', 'incoming'], registers,
    });
    this.claims = new Counter({ name: 'hexfleet_ownership_claims_total', help: 'Drivers this region claimed as their first home (epoch 1) when they connected.', registers });
  }
}
