import type { StoredVehicle } from '../domain/vehicle.js';
import type { ApplyOutcome, DriverBatch, StoredStatus } from '../geo/driver-store.js';

/** A driver's position as it was written to the store: what tracking shows. */
export interface DriverPosition {
  driverId: string;
  lat: number;
  lng: number;
  /** Fix time, ms since the epoch (device clock, bounded by ping validation). */
  ts: number;
  hdg?: number;
  spd?: number;
  /**
   * The stored record's seq, status and vehicle after the write, when the
   * engine returned the record (every engine does): what a gateway-local
   * read index applies (seq-monotonic; status and vehicle filter nearby).
   */
  seq?: number;
  status?: StoredStatus;
  vehicle?: StoredVehicle;
  /** When the gateway that stored it published it (its clock, ms): set on positions from other gateways, for the read index's delay. */
  publishedAt?: number;
}

/**
 * Carries applied positions from the gateway that stored them to every
 * gateway's tracking hub (this one included).
 *
 * Guarantees: `publish` is called after the store write succeeded, so a
 * position is never announced before it can be read back; listeners of this
 * process get it synchronously inside `publish`, other gateways at most once
 * and in publish order per publisher; nothing is kept or replayed (a gateway
 * that was not listening misses it, and a subscriber reads the last-known
 * position from the store instead). Latest wins: a listener may see a
 * driver's positions out of ts order across publishers and must keep the
 * newest. `publish` never throws and never waits for the network.
 *
 * A listener that throws is reported in the log and skipped: it stops no
 * other listener, of this process or another, and never reaches the
 * publisher (the ingest pipeline, which has acked the pings already).
 */
export interface PositionBus {
  publish(positions: readonly DriverPosition[]): void;
  /** Calls `listener` with every batch of positions from now on; returns the unsubscribe function (idempotent). */
  subscribe(listener: (positions: readonly DriverPosition[]) => void): () => void;
  /**
   * Calls `listener` whenever this gateway may have missed positions from
   * other gateways (a publisher's message sequence skipped, which a lost
   * subscription or an overflowing subscriber buffer causes); returns the
   * unsubscribe function. A bus that cannot miss any (one process) never calls it.
   */
  onGap(listener: () => void): () => void;
  /**
   * Stops the bus for good (idempotent): afterwards nothing is delivered to
   * its listeners, `publish` publishes nothing, and `subscribe` is a no-op
   * that returns a no-op unsubscribe.
   */
  close(): Promise<void>;
}

/**
 * The last applied position of each driver in one store write: the pings a
 * write applies for one driver arrive faster than anyone can watch them, so
 * only the newest is published (one message per write, not per ping).
 * Duplicates are the lowest seqs of a batch, so a batch with any applied ping
 * has its last ping applied.
 */
export function lastPositions(batches: readonly DriverBatch[], outcomes: readonly ApplyOutcome[]): DriverPosition[] {
  const last = new Map<string, DriverPosition>();
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i]!;
    if ((outcomes[i]?.applied ?? 0) === 0) continue;
    const record = outcomes[i]!.record;
    if (record) {
      // The store's own record: its position is the newest it holds (an older ping never moves it back).
      const prev = last.get(batch.driverId);
      if (prev && (prev.seq ?? -1) > record.seq) continue;
      const pos: DriverPosition = {
        driverId: batch.driverId, lat: record.lat, lng: record.lng, ts: record.ts,
        seq: record.seq, status: record.status, vehicle: record.vehicle,
      };
      if (record.hdg !== undefined) pos.hdg = record.hdg;
      if (record.spd !== undefined) pos.spd = record.spd;
      last.set(batch.driverId, pos);
      continue;
    }
    let newest = batch.pings[0]!;
    for (const p of batch.pings) if (p.ts >= newest.ts) newest = p;
    const prev = last.get(batch.driverId);
    if (prev && prev.ts > newest.ts) continue;
    const pos: DriverPosition = { driverId: batch.driverId, lat: newest.lat, lng: newest.lng, ts: newest.ts };
    if (newest.hdg !== undefined) pos.hdg = newest.hdg;
    if (newest.spd !== undefined) pos.spd = newest.spd;
    last.set(batch.driverId, pos);
  }
  return [...last.values()];
}
