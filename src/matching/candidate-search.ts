import type { Counter } from 'prom-client';
import type { VehicleType } from '../domain/vehicle.js';
import type { EtaProvider } from '../eta/eta-provider.js';
import type { NearbyDriver, NearbyReader } from '../geo/driver-store.js';
import type { DispatchPool } from './dispatch-pool.js';
import { rankOrder } from './rank-order.js';

/** Who to look for around a pickup. */
export interface CandidateQuery {
  pickup: { lat: number; lng: number };
  radiusM: number;
  /** Acceptable vehicles; empty or absent: any. */
  vehicles?: readonly VehicleType[];
  /** Drivers already tried for this order: never returned. */
  exclude: readonly string[];
  /** How many drivers to read from the store (before `exclude` is applied). */
  limit: number;
}

/**
 * What this gateway knows of drivers' reservations (see ReservedDrivers):
 * a hint that lets candidate search skip reserved drivers; the backend's
 * reservation still decides.
 */
export interface ReservationHint {
  isReserved(driverId: string, now: number): boolean;
}

/** How CandidateSearch ranks and filters (see its constructor). */
export interface CandidateTuning {
  /**
   * Lists of at most this many candidates are ranked on this thread: a hop
   * to the pool costs more than sorting them (HEXFLEET_DISPATCH_RANK_IN_THREAD_MAX,
   * measured by bench:match's rank scenario); longer ones go to the pool,
   * whose bound stays the bulkhead for them and for batch solving. 0 (default): always the pool.
   */
  rankInThreadMax?: number;
  /** Drivers to skip as reserved; absent: none skipped. */
  reserved?: ReservationHint;
  /**
   * Regions with ownership: only drivers whose ownership record names
   * `region` are candidates, read from the backend with each batch of nearby
   * drivers (one read per batch). Unlike the reservation hint this is no
   * guess to fall back from: another region's driver is never offered (the
   * reservation's fence refuses it anyway; this saves the refused commits).
   */
  ownership?: { region: string; regionsOf(driverIds: readonly string[]): Promise<(string | null)[]> };
}

/**
 * How many more drivers than asked a search reads at most to get past
 * reserved ones (a busy restaurant's queue of couriers): local reads cost
 * microseconds per driver, and beyond this the reserved ones come back as
 * candidates (refused commits, as before the hint).
 */
const MAX_EXTRA_READ = 512;

/** A candidate driver with its estimate, in rank order. */
export interface RankedCandidate {
  driver: NearbyDriver;
  etaS: number;
  distanceM: number;
  etaSource: 'provider' | 'fallback';
}

/**
 * Finds and ranks the drivers for one order: the nearest available drivers
 * from the store, their ETAs to the pickup (routing service or its
 * fallback), ranked by ETA (short lists here, long ones in the dispatch
 * pool). Shared by the saga
 * (immediate matches) and the batch matcher (each order's candidate list).
 *
 * Read-only: nothing is reserved here, so a candidate may be gone by the time
 * the caller reserves it (the reservation re-checks it atomically).
 */
export class CandidateSearch {
  constructor(
    /** The backend's store, or the gateway's read index in front of it. */
    private readonly drivers: NearbyReader,
    private readonly eta: EtaProvider,
    private readonly pool: DispatchPool,
    /** Counts ETA batches by source (provider, fallback). */
    private readonly etaSource: Counter<'source'>,
    private readonly tuning: CandidateTuning = {},
  ) {}

  /**
   * The nearest `limit` drivers not excluded, ranked. Drivers the hint says
   * are reserved do not count and are skipped, unless skipping them leaves
   * no candidate at all: then they come back (the hint may be stale; the
   * backend decides), so the hint never turns a match into no_driver.
   */
  async find(q: CandidateQuery, now: number): Promise<RankedCandidate[]> {
    const fresh = await this.nearest(q, now);
    if (fresh.length === 0) return [];
    const eta = await this.eta.etas(fresh.map((c) => ({ lat: c.lat, lng: c.lng, vehicle: c.vehicle })), q.pickup);
    this.etaSource.inc({ source: eta.source });
    const order = fresh.length <= (this.tuning.rankInThreadMax ?? 0)
      ? rankOrder(eta.etaS, eta.distanceM)
      : await this.pool.rank(eta.etaS.slice(), eta.distanceM.slice());
    return Array.from(order, (i) => ({
      driver: fresh[i]!,
      etaS: Math.round(eta.etaS[i]!),
      distanceM: Math.round(eta.distanceM[i]!),
      etaSource: eta.fallback[i] ? 'fallback' : 'provider',
    }));
  }

  /** The drivers to rank: nearest first, other regions' drivers and `exclude` left out, reserved ones skipped while others remain (see find). */
  private async nearest(q: CandidateQuery, now: number): Promise<NearbyDriver[]> {
    const options = { status: 'available' as const, ...(q.vehicles?.length ? { vehicles: q.vehicles } : {}) };
    const hint = this.tuning.reserved;
    const open = (d: NearbyDriver): boolean => !q.exclude.includes(d.driverId);
    let limit = q.limit;
    for (;;) {
      const read = await this.drivers.nearby(q.pickup.lat, q.pickup.lng, q.radiusM, { ...options, limit }, now);
      const near = await this.ownedHere(read);
      if (!hint && near.length === read.length) return near.filter(open);
      if (!hint) {
        // Other regions' drivers left out: read further while they crowd out this region's.
        if (near.length >= q.limit || read.length < limit || limit >= q.limit + MAX_EXTRA_READ) return near.slice(0, q.limit).filter(open);
        limit = Math.min(q.limit + MAX_EXTRA_READ, 2 * limit);
        continue;
      }
      const free = near.filter((d) => !hint.isReserved(d.driverId, now));
      const skipped = near.length - free.length;
      // Enough free ones, or nobody further away, or read far enough: answer with what is here.
      if (free.length >= q.limit || read.length < limit || limit >= q.limit + MAX_EXTRA_READ) {
        const candidates = free.slice(0, q.limit).filter(open);
        return candidates.length > 0 || skipped === 0 ? candidates : near.slice(0, q.limit).filter(open);
      }
      limit = Math.min(q.limit + MAX_EXTRA_READ, Math.max(2 * limit, q.limit + skipped + read.length - near.length));
    }
  }

  /** `drivers` without those another region owns (all of them without ownership). */
  private async ownedHere(drivers: NearbyDriver[]): Promise<NearbyDriver[]> {
    const own = this.tuning.ownership;
    if (!own || drivers.length === 0) return drivers;
    const regions = await own.regionsOf(drivers.map((d) => d.driverId));
    return drivers.filter((_, i) => regions[i] === own.region);
  }
}
