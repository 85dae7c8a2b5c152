import type { Ownership } from './ownership.js';

/** What `OwnershipStore.apply` did. */
export interface OwnershipApplied {
  /** The record was written (its epoch was higher than the held one's, or none was held). */
  applied: boolean;
  /** The record held before the call (null: none). */
  previous: Ownership | null;
  /** The record held after the call. */
  current: Ownership;
}

/**
 * The drivers' ownership records of one region's backend, beside the driver
 * records (Redis: on the driver's shard, so the reserving scripts read it in
 * the same atomic step; see the fence in CommitEffects.reserve.homeRegion).
 *
 * Guarantees:
 * - `apply` is atomic and idempotent: a record with a higher epoch than the
 *   held one replaces it, any other changes nothing (an equal epoch never
 *   changes the region). Applying the same records in any order converges
 *   to the highest epoch, so it is the one path for local claims, moves and
 *   records replicated from other regions, and callers may retry it.
 * - a record never expires and is never lowered; nothing but a higher epoch
 *   moves a driver.
 */
export interface OwnershipStore {
  get(driverId: string): Promise<Ownership | null>;
  /** The home region of each driver, in the order given (null: no record); one read, not atomic across drivers (candidate search's filter). */
  regionsOf(driverIds: readonly string[]): Promise<(string | null)[]>;
  apply(driverId: string, record: Ownership): Promise<OwnershipApplied>;
}
