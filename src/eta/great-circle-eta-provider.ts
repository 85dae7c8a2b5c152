import { distanceM } from '../geo/geodesy.js';
import { isVehicleType, VEHICLE_CODE, VEHICLE_SPEEDS_MS, VEHICLE_TYPES, type VehicleType } from '../domain/vehicle.js';
import type { EtaOrigin, EtaProvider, EtaResult, GeoPoint } from './eta-provider.js';

/** Default speeds: each vehicle's typical city speed, door to door (see VEHICLE_SPEEDS_MS for the reasons). */
export const DEFAULT_SPEEDS_MPS: Readonly<Record<VehicleType, number>> = Object.fromEntries(
  VEHICLE_TYPES.map((v) => [v, VEHICLE_SPEEDS_MS[v].typical]),
) as Record<VehicleType, number>;

/**
 * Road distance ÷ straight-line distance. Studies of road-network circuity
 * find about 1.2 in dense grids to 1.4 in suburbs; 1.3 sits in the middle so
 * neither kind of area is badly over- or under-estimated.
 */
export const DEFAULT_DETOUR_FACTOR = 1.3;

/** Options of {@link GreatCircleEtaProvider}; every field is optional. */
export interface GreatCircleEtaOptions {
  /** Multiplies the great-circle distance into a road distance. Default 1.3, at least 1 (see {@link DEFAULT_DETOUR_FACTOR}). */
  detourFactor?: number;
  /** Speed per vehicle type in m/s, > 0; missing types keep their default (see {@link DEFAULT_SPEEDS_MPS}). */
  speedsMps?: Partial<Record<VehicleType, number>>;
  /**
   * The vehicle assumed for an origin whose vehicle is absent or `unknown`.
   * Default `bike`: the most common delivery vehicle in dense cities, and a
   * middle speed, so an unknown vehicle neither wins nor loses every ranking.
   */
  unknownVehicle?: VehicleType;
  /** Seconds added to every ETA (parking, walking into the restaurant). Default 0, >= 0. */
  pickupOverheadS?: number;
}

/**
 * ETA = great-circle distance × detour factor ÷ speed of the vehicle + pickup
 * overhead. Pure arithmetic: never rejects, never calls out, ~55 ns per
 * origin on the 2-core machine, so it is both the default provider (no
 * routing service configured) and the fallback of the ones that call a
 * service. `source` is always `provider` and `fallback` all zeros: this is
 * the provider's own method.
 * `distanceM` is the estimated road distance (great-circle × detour).
 */
export class GreatCircleEtaProvider implements EtaProvider {
  readonly name = 'great-circle';
  readonly detourFactor: number;
  readonly pickupOverheadS: number;
  /** Seconds per metre of road, indexed by vehicle code (code 0 = the unknown vehicle's). */
  private readonly secondsPerM: Float64Array;

  constructor(options: GreatCircleEtaOptions = {}) {
    const { detourFactor = DEFAULT_DETOUR_FACTOR, speedsMps = {}, unknownVehicle = 'bike', pickupOverheadS = 0 } = options;
    if (typeof detourFactor !== 'number' || !Number.isFinite(detourFactor) || detourFactor < 1) {
      throw new RangeError(`detourFactor must be a finite number >= 1 (got ${String(detourFactor)})`);
    }
    if (typeof pickupOverheadS !== 'number' || !Number.isFinite(pickupOverheadS) || pickupOverheadS < 0) {
      throw new RangeError(`pickupOverheadS must be a finite number >= 0 (got ${String(pickupOverheadS)})`);
    }
    if (!isVehicleType(unknownVehicle)) {
      throw new TypeError(`unknownVehicle must be one of ${VEHICLE_TYPES.join(', ')} (got ${String(unknownVehicle)})`);
    }
    for (const key of Object.keys(speedsMps)) {
      if (!isVehicleType(key)) throw new TypeError(`speedsMps.${key} is not a vehicle type (${VEHICLE_TYPES.join(', ')})`);
    }
    this.detourFactor = detourFactor;
    this.pickupOverheadS = pickupOverheadS;
    this.secondsPerM = new Float64Array(VEHICLE_TYPES.length + 1);
    for (const type of VEHICLE_TYPES) {
      const speed = speedsMps[type] ?? DEFAULT_SPEEDS_MPS[type];
      if (typeof speed !== 'number' || !Number.isFinite(speed) || speed <= 0) {
        throw new RangeError(`speedsMps.${type} must be a finite number > 0 m/s (got ${String(speed)})`);
      }
      this.secondsPerM[VEHICLE_CODE[type]] = 1 / speed;
    }
    this.secondsPerM[VEHICLE_CODE.unknown] = this.secondsPerM[VEHICLE_CODE[unknownVehicle]] ?? 0;
  }

  etas(origins: readonly EtaOrigin[], destination: GeoPoint): Promise<EtaResult> {
    return Promise.resolve(this.estimate(origins, destination));
  }

  /** The same answer as {@link etas}, synchronously (for callers that already hold the loop). */
  estimate(origins: readonly EtaOrigin[], destination: GeoPoint): EtaResult {
    const n = origins.length;
    const etaS = new Float64Array(n);
    const distance = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const o = origins[i]!;
      const road = distanceM(o.lat, o.lng, destination.lat, destination.lng) * this.detourFactor;
      distance[i] = road;
      etaS[i] = road * this.secondsPerM[VEHICLE_CODE[o.vehicle ?? 'unknown']]! + this.pickupOverheadS;
    }
    return { etaS, distanceM: distance, source: 'provider', fallback: new Uint8Array(n) };
  }
}
