import type { Counter } from 'prom-client';
import type { VehicleType } from '../domain/vehicle.js';
import type { EtaProvider } from '../eta/eta-provider.js';
import type { NearbyDriver, NearbyReader } from '../geo/driver-store.js';
import type { DispatchPool } from './dispatch-pool.js';

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
 * fallback), ranked by ETA in the dispatch pool. Shared by the saga
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
  ) {}

  async find(q: CandidateQuery, now: number): Promise<RankedCandidate[]> {
    const near = await this.drivers.nearby(q.pickup.lat, q.pickup.lng, q.radiusM, {
      limit: q.limit,
      status: 'available',
      ...(q.vehicles?.length ? { vehicles: q.vehicles } : {}),
    }, now);
    const fresh = near.filter((c) => !q.exclude.includes(c.driverId));
    if (fresh.length === 0) return [];
    const eta = await this.eta.etas(fresh.map((c) => ({ lat: c.lat, lng: c.lng, vehicle: c.vehicle })), q.pickup);
    this.etaSource.inc({ source: eta.source });
    const order = await this.pool.rank(eta.etaS.slice(), eta.distanceM.slice());
    return Array.from(order, (i) => ({
      driver: fresh[i]!,
      etaS: Math.round(eta.etaS[i]!),
      distanceM: Math.round(eta.distanceM[i]!),
      etaSource: eta.fallback[i] ? 'fallback' : 'provider',
    }));
  }
}
