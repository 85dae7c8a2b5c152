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

export function isVehicleType(v: unknown): v is VehicleType {
  return typeof v === 'string' && (VEHICLE_TYPES as readonly string[]).includes(v);
}

/** A bit mask of vehicle codes (bit n = code n), for filters inside Lua. */
export function vehicleMask(types: readonly VehicleType[]): number {
  return types.reduce((m, t) => m | (1 << VEHICLE_CODE[t]), 0);
}
