import type { HexfleetError } from '../protocol/error-codes.js';
import type { DriverStatus, WirePing } from '../protocol/wire-frames.js';

/**
 * The geo store contract: where every driver is, and who is near a point.
 *
 * Two implementations pass one conformance suite (test/geo/driver-store.contract.ts):
 * `MemoryDriverStore` (embedded default) and `RedisDriverStore`.
 */

import type { StoredVehicle, VehicleType } from '../domain/vehicle.js';

export const DRIVER_STATUSES = ['available', 'busy', 'offline'] as const satisfies readonly DriverStatus[];
export type { DriverStatus };
/** `unknown` until the driver app first sends a status. */
export type StoredStatus = DriverStatus | 'unknown';

/**
 * One validated GPS fix: the wire's ping after validation. Coordinates are
 * already rounded to 1e-7 degrees (~1 cm); ts is bounded by validation.
 */
export type Ping = WirePing;

/** The pings of one driver, in ascending seq order. */
export interface DriverBatch {
  driverId: string;
  pings: Ping[];
  /** The driver's vehicle (from its token); sticky, kept when absent. */
  vehicle?: VehicleType;
}

export interface ApplyOutcome {
  /** Pings with a seq above the driver's last applied seq. */
  applied: number;
  /** Pings with a seq at or below it: acknowledged, not applied again. */
  duplicates: number;
  /**
   * Set when this batch was not stored while others of the call were (an
   * engine with independent shards, one of them unreachable): not acked,
   * retryable; `applied` and `duplicates` are then 0.
   */
  failed?: HexfleetError;
  /**
   * The driver's record as stored after this batch, when the engine returns
   * it (every engine does): what the other gateways' read indexes apply.
   */
  record?: DriverRecord;
}

/** The last-known record of a driver. */
export interface DriverRecord {
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  seq: number;
  status: StoredStatus;
  vehicle: StoredVehicle;
  /** H3 cell at the configured resolution. */
  cell: string;
  acc?: number;
  spd?: number;
  hdg?: number;
  /** Still in the cell index (false once silent past the offline threshold). */
  indexed: boolean;
}

export interface DriverView extends DriverRecord {
  /** now − ts: how old the position is. Never negative. */
  ageMs: number;
  /** ageMs > staleMs: the feed dropped and this is a last-known position. */
  stale: boolean;
}

export interface NearbyOptions {
  limit: number;
  includeStale?: boolean;
  status?: StoredStatus;
  /** Only drivers with one of these vehicles (absent: any). */
  vehicles?: readonly VehicleType[];
}

export interface NearbyDriver {
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  status: StoredStatus;
  vehicle: StoredVehicle;
  distanceM: number;
  ageMs: number;
  stale: boolean;
}

export interface SweepOutcome {
  /** Drivers that left the cell index (silent past offlineMs). */
  unindexed: number;
  /** Records removed (silent past retentionMs). */
  removed: number;
}

/** What repairIndex() found wrong in the cell index and how much of it it repaired. */
export interface RepairOutcome {
  /** Disagreements between the index and the records. */
  found: number;
  /** Of those, the ones repaired by this call. */
  fixed: number;
}

export interface DriverStore {
  readonly kind: 'memory' | 'redis';

  /**
   * Applies batches of pings. Guarantees, per driver:
   * - atomic: after the call the driver is in exactly one cell (or, if it was
   *   never seen, a new record and one cell); a reader never sees a driver in
   *   two cells or none;
   * - exactly once: a ping whose seq is not above the last applied seq is a
   *   duplicate (counted, not applied), so a caller may retry a whole call
   *   after a failure of unknown outcome;
   * - monotonic position: a ping with an older ts than the stored one advances
   *   seq and may change status, but never moves the driver back in time;
   * - status is sticky: pings without status keep the stored one.
   * Batches for the same driver are applied in the order given. Resolves only
   * once every batch is stored (durably as far as the backend is); rejects
   * with `store_unavailable` when the backend cannot be reached, in which case
   * any subset may have been applied (retrying is safe, see above). An engine
   * whose shards fail independently (Redis Cluster) resolves instead when
   * only some shards failed, with `failed` set on the batches it could not
   * store, so that one lost shard does not fail every driver's ack.
   */
  applyBatches(batches: DriverBatch[], now: number): Promise<ApplyOutcome[]>;

  /** The last-known record with its age, or null if unknown. Never an error for a stale driver. */
  get(driverId: string, now: number): Promise<DriverView | null>;

  /**
   * Drivers within `radiusM` metres (great-circle) of a point, nearest first.
   * Exact: no driver inside the radius is missed, none outside is returned.
   * Stale drivers are left out unless `includeStale`; drivers out of the
   * index (offline past offlineMs) are never returned.
   */
  nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]>;

  /**
   * Moves drivers silent past offlineMs out of the cell index and removes
   * records silent past retentionMs. Idempotent; safe to run from several
   * gateways at once.
   */
  sweep(now: number): Promise<SweepOutcome>;

  /**
   * Makes the cell index agree with the records, which are the truth
   * (reconciliation; a healthy store has nothing to repair: this mends what a
   * bug, a manual edit or a partial restore left). Guarantees:
   * - an entry whose driver has no record, is out of the index, or is indexed
   *   in another cell is removed;
   * - an indexed record whose cell lacks its entry gets it back, or, when the
   *   driver has been silent past offlineMs (judged at `now`), leaves the
   *   index as sweep() would have made it; an entry that holds something
   *   else than its record (Redis keeps a copy) is rewritten;
   * - each disagreement is checked and repaired atomically against the
   *   current record, so running it while pings are applied never removes a
   *   live entry. It is not a snapshot: a disagreement created during the
   *   run may be left for the next one.
   * `found` counts disagreements, `fixed` those repaired; they differ only
   * for one a backend cannot repair safely, which it leaves as it is.
   * Idempotent; safe to run from several gateways at once (each repair is
   * counted by the call that made it). Rejects with `store_unavailable` when
   * the backend cannot be reached, after repairing any subset.
   */
  repairIndex(now: number): Promise<RepairOutcome>;

  /**
   * Every record, page by page (a gateway-local read index's bootstrap).
   * Not a snapshot: a record written during the scan may or may not be in
   * it, so a caller that must miss nothing subscribes to the applied
   * positions first and applies both by seq. Rejects with
   * `store_unavailable` when the backend cannot be reached.
   *
   * `areas` (cells at HEXFLEET_REDIS_AREA_RESOLUTION, src/geo/market-area.ts)
   * asks for the records of those areas only: an engine that keeps records
   * by area (Cluster) reads just those; the others read everything, so the
   * caller still filters.
   */
  scan(onPage: (records: DriverRecord[]) => void, areas?: readonly string[]): Promise<void>;

  /** Resolves when the backend answers; rejects with `store_unavailable` otherwise. */
  check(): Promise<void>;

  close(): Promise<void>;
}

/** What nearby reads need: the backend's store, or a read index in front of it (src/readindex). */
export interface NearbyReader extends Pick<DriverStore, 'nearby'> {
  /**
   * The same answer as nearby(), at once, when it is in this process (the
   * memory store; the read index while it serves locally); undefined when it
   * needs the backend (then call nearby()). Optional: Redis stores have none.
   */
  nearbyNow?(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): NearbyDriver[] | undefined;
}

export interface StoreTiming {
  staleMs: number;
  offlineMs: number;
  retentionMs: number;
}

/** The view of a record at `now`, shared by every implementation. */
export function viewOf(record: DriverRecord, now: number, staleMs: number): DriverView {
  const ageMs = Math.max(0, now - record.ts);
  return { ...record, ageMs, stale: ageMs > staleMs };
}
