/**
 * The ETA contract: how long each candidate driver needs to reach a pickup.
 *
 * Two implementations: `GreatCircleEtaProvider` (the default, pure arithmetic)
 * and `OsrmEtaProvider` (an external routing service, falling back to the
 * great-circle estimate). Dispatch scores many drivers against one pickup, so
 * one call takes every origin and the one destination: a column of the cost
 * matrix, returned as typed arrays that can be handed to the solver workers
 * (transferable) without copying into nested JS arrays.
 */

import type { StoredVehicle } from '../domain/vehicle.js';

/** A WGS84 position in degrees. */
export interface GeoPoint {
  readonly lat: number;
  readonly lng: number;
}

/** A candidate driver's position and vehicle (absent or `unknown`: see each provider). */
export interface EtaOrigin extends GeoPoint {
  readonly vehicle?: StoredVehicle;
}

/** Where an ETA came from: the provider's own method, or the great-circle fallback. */
export type EtaSource = 'provider' | 'fallback';

/**
 * One entry per origin, index `i` of every array is `origins[i]`.
 *
 * ```
 *   origins      [ d0 ,  d1 ,  d2 ]      (candidate drivers)
 *   etaS         [ 412,  95 , 1310]      seconds to the destination
 *   distanceM    [2980,  610, 9020]      travel metres to the destination
 *   fallback     [  0 ,   1 ,   0 ]      1 = this entry is the fallback estimate
 * ```
 */
export interface EtaResult {
  /** Travel time in seconds (including any fixed pickup overhead). Finite and >= 0. */
  readonly etaS: Float64Array;
  /**
   * Travel distance in metres: road metres from a routing service, the
   * great-circle distance times the detour factor from the estimate.
   */
  readonly distanceM: Float64Array;
  /** `provider` when every entry came from the provider itself; `fallback` when at least one did not. */
  readonly source: EtaSource;
  /**
   * Per entry: 1 when it is the fallback estimate (service failed, breaker
   * open, or the pair was unreachable on the road graph), else 0. Use it for
   * the `etaSource` of the one driver chosen.
   */
  readonly fallback: Uint8Array;
}

/**
 * Estimates travel from many origins to one destination.
 *
 * Guarantees of every implementation:
 * - **Order**: entry `i` of the result belongs to `origins[i]`; the arrays have
 *   exactly `origins.length` entries (an empty input gives empty arrays and
 *   makes no external call).
 * - **Units**: seconds and metres, finite and non-negative for valid input.
 * - **Never rejects because a dependency failed**: a provider that calls a
 *   service answers from its fallback instead and says so in `source` and
 *   `fallback`. It may take up to its documented worst-case latency to do so.
 * - **No shared mutable state with the caller**: the arrays are new on every
 *   call, so the caller may transfer them to a worker.
 *
 * Input is assumed valid (finite lat in [-90, 90], lng in [-180, 180]); the
 * match API validates it before asking for ETAs.
 */
export interface EtaProvider {
  /** A short stable name for logs and metrics (`great-circle`, `osrm`). */
  readonly name: string;
  etas(origins: readonly EtaOrigin[], destination: GeoPoint): Promise<EtaResult>;
}
