/**
 * Vehicle types a driver can have (from the `vehicle` claim of its token) and
 * an order can require. The codes are what the stores keep (one byte).
 */
export const VEHICLE_TYPES = ['walk', 'bike', 'scooter', 'car'] as const;
export type VehicleType = (typeof VEHICLE_TYPES)[number];
/** `unknown`: the driver's token named no vehicle. */
export type StoredVehicle = VehicleType | 'unknown';

export const VEHICLE_CODE: Record<StoredVehicle, number> = { unknown: 0, walk: 1, bike: 2, scooter: 3, car: 4 };
export const VEHICLE_NAME: readonly StoredVehicle[] = ['unknown', 'walk', 'bike', 'scooter', 'car'];

/**
 * How fast each vehicle moves in a city, m/s: the one table of speeds. The
 * simulator moves its drivers at `typical` (each within ±20 %); the
 * benchmarks' synthetic drivers wander between 0 and `top`.
 *
 * `typical`, door to door including stops at lights and junctions (the
 * averages the ETA model ranks drivers by): walk 1.4 (~5 km/h, the usual
 * pedestrian design speed), bike 4.5 (~16 km/h, urban cycling with stops),
 * scooter 7 (~25 km/h, the legal cap of many e-scooters and mopeds in
 * cities), car 8.5 (~30 km/h, urban car trips once congestion and lights
 * are counted).
 *
 * `top`, the most it plausibly holds between stops: walk 2.5 (9 km/h, a
 * courier jogging), bike 7 (25 km/h, where e-bike assistance stops), scooter
 * 12.5 (45 km/h, the moped class limit), car 20 (72 km/h, a city arterial).
 */
export const VEHICLE_SPEEDS_MS: Readonly<Record<VehicleType, { readonly typical: number; readonly top: number }>> = {
  walk: { typical: 1.4, top: 2.5 },
  bike: { typical: 4.5, top: 7 },
  scooter: { typical: 7, top: 12.5 },
  car: { typical: 8.5, top: 20 },
};

export function isVehicleType(v: unknown): v is VehicleType {
  return typeof v === 'string' && (VEHICLE_TYPES as readonly string[]).includes(v);
}

/** A bit mask of vehicle codes (bit n = code n), for filters inside Lua. */
export function vehicleMask(types: readonly VehicleType[]): number {
  return types.reduce((m, t) => m | (1 << VEHICLE_CODE[t]), 0);
}
