import type { ReplicatedOrigin } from '../protocol/wire-frames.js';
import type { DriverPosition } from './position-bus.js';

/**
 * Drivers whose origin is remembered, at most: ~100 bytes each, 50 MB for a
 * gateway that holds every replicated driver of a large deployment. Past it
 * the least recently moved driver is forgotten (its last-known position is
 * then shown without its origin until it moves again).
 */
const MAX_DRIVERS = 500_000;

interface Held extends ReplicatedOrigin {
  /** Fix time of the replicated position: the stored record shows it while its ts is this one. */
  ts: number;
}

/**
 * Which drivers' last-known positions this region got from another one, as
 * this gateway heard them on the position bus: the replication applier
 * publishes what it applies with its origin (DriverPosition.region and
 * replicationAgeMs), a local ping's position without. The store's records do
 * not say where a position came from; this table lets the last-known and
 * nearby answers and tracking's first position say it.
 *
 * Guarantees: `originOf(driverId, ts)` answers only for the position with
 * that fix time, the one the replicated write stored, so a driver that has
 * moved since by a local ping is never shown with a region; a local position
 * with another ts forgets the driver. It knows what this gateway heard: the
 * drivers of the areas it follows (every area with the read index on, the
 * default), from when it started; a replicated position stored before it
 * started is shown without its origin until the driver's next replicated
 * position. A read straight from the store (GET /v1/drivers/:id on a Redis
 * engine) may also meet a replicated fix in the moment between its store
 * write and its publication, and show it without its origin; reads through
 * the read index, and tracking, get both from the same bus message.
 * Single-threaded, no I/O; one Map operation per position.
 */
export class ReplicatedOrigins {
  private readonly drivers = new Map<string, Held>();

  constructor(private readonly max = MAX_DRIVERS) {}

  /** The position bus listener: subscribe it before any listener that calls `annotate` on the same positions. */
  observe(positions: readonly DriverPosition[]): void {
    for (const p of positions) {
      // A local position with nothing held (a single region: always) costs no lookup.
      if (p.region === undefined && this.drivers.size === 0) continue;
      const held = this.drivers.get(p.driverId);
      if (p.region === undefined) {
        // A local write that left the replicated position in place (an older fix, a status change) keeps it.
        if (held && held.ts !== p.ts) this.drivers.delete(p.driverId);
        continue;
      }
      // Latest wins: a replicated position older than the one held never replaces it.
      if (held && held.ts > p.ts) continue;
      this.drivers.delete(p.driverId);
      this.drivers.set(p.driverId, { ts: p.ts, region: p.region, replicationAgeMs: p.replicationAgeMs ?? 0 });
      if (this.drivers.size > this.max) this.drivers.delete(this.drivers.keys().next().value!);
    }
  }

  /** Where the position of `driverId` at fix time `ts` came from, when another region accepted it. */
  originOf(driverId: string, ts: number): ReplicatedOrigin | undefined {
    const held = this.drivers.get(driverId);
    return held && held.ts === ts ? { region: held.region, replicationAgeMs: held.replicationAgeMs } : undefined;
  }

  /**
   * `x` with `region` and `replicationAgeMs` when its position came from
   * another region (a new object), else `x` itself: for a last-known record,
   * a nearby driver or a tracked position.
   */
  annotate<T extends { driverId: string; ts: number; region?: string }>(x: T): T & Partial<ReplicatedOrigin> {
    if (x.region !== undefined || this.drivers.size === 0) return x;
    const origin = this.originOf(x.driverId, x.ts);
    return origin ? { ...x, ...origin } : x;
  }

  /** Drivers held (for tests and the size bound). */
  get size(): number {
    return this.drivers.size;
  }
}
