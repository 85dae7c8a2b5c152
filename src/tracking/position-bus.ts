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
  /** Set on a position applied by the replication applier: the region that accepted it (see ReplicatedOrigin). */
  region?: string;
  /** With `region`: applied here minus accepted there, ms. */
  replicationAgeMs?: number;
}

/** `follow(ALL_AREAS)`: every area's positions (a gateway whose read index holds every market). */
export const ALL_AREAS = '*';

/** A gateway's interest in one area's positions (or every area's), from `PositionBus.follow`. */
export interface AreaInterest {
  /** Resolves once positions of the area published from now on reach this gateway; never rejects. */
  readonly ready: Promise<void>;
  /** Drops this interest (idempotent); the area stops coming once no interest in it is left. */
  release(): void;
}

/**
 * Carries applied positions from the gateway that stored them to the
 * gateways that follow their area (this one always).
 *
 * Positions are fanned out by area (src/geo/market-area.ts: the H3 parent at
 * HEXFLEET_REDIS_AREA_RESOLUTION, the market unit the Cluster engine shards
 * by). A gateway receives the positions of the areas it `follow`s: its read
 * index's markets (every area by default) and the areas of the drivers its
 * tracking subscribers watch and of their boxes. A position is published in
 * its own area and, when the driver's previous position published by this
 * gateway was in another area, in that one too, so a gateway following only
 * the old area sees the driver leave.
 *
 * Guarantees: `publish` is called after the store write succeeded, so a
 * position is never announced before it can be read back; listeners of this
 * process get every position published here synchronously inside `publish`,
 * whatever its area; other gateways get the positions of the areas they
 * follow (between `ready` and `release`), at most once and in publish order
 * per publisher and area (a batch reaches them as one message per area, so
 * a batch of one area arrives whole); nothing is kept or replayed (a gateway that was not
 * listening misses it, and a subscriber reads the last-known position from
 * the store instead). A listener may also see positions of areas it did not
 * ask for (another part of the gateway follows them, or they were published
 * here) and filters what it needs. Latest wins: a listener may see a driver's
 * positions out of ts order across publishers and must keep the newest.
 * `publish` never throws and never waits for the network.
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
   * Asks for the positions of an area (an H3 cell at the area resolution) or
   * of every area (`ALL_AREAS`). Interests are counted: an area is followed
   * while at least one interest in it is held. A bus of one process has
   * nothing to follow (everything is published here) and returns an interest
   * that is ready at once.
   */
  follow(area: string): AreaInterest;
  /**
   * Calls `listener` whenever this gateway may have missed positions from
   * other gateways: with the area whose messages skipped a number (a
   * publisher's messages are numbered per area), or with undefined when any
   * area may have lost some (a lost subscription). Returns the unsubscribe
   * function. A bus that cannot miss any (one process) never calls it.
   */
  onGap(listener: (area: string | undefined) => void): () => void;
  /**
   * Stops the bus for good (idempotent): afterwards nothing is delivered to
   * its listeners, `publish` publishes nothing, and `subscribe` is a no-op
   * that returns a no-op unsubscribe.
   */
  close(): Promise<void>;
}

/**
 * Where the batches of a replicated store write came from: the region that
 * accepted them, when (its log's append time, per batch) and when they were
 * applied here.
 */
export interface ReplicatedWrite {
  region: string;
  acceptedAt: readonly number[];
  appliedAt: number;
}

/**
 * The last applied position of each driver in one store write: the pings a
 * write applies for one driver arrive faster than anyone can watch them, so
 * only the newest is published (one message per write, not per ping).
 * Duplicates are the lowest seqs of a batch, so a batch with any applied ping
 * has its last ping applied. With `replicated` (the replication applier's
 * writes), a position that one of the write's own pings put there carries
 * the region and replication age; a stored position the write did not move
 * (a newer local one) carries neither.
 */
export function lastPositions(batches: readonly DriverBatch[], outcomes: readonly ApplyOutcome[], replicated?: ReplicatedWrite): DriverPosition[] {
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
      if (replicated && batch.pings.some((p) => p.ts === record.ts)) stamp(pos, replicated, i);
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
    if (replicated) stamp(pos, replicated, i);
    last.set(batch.driverId, pos);
  }
  return [...last.values()];
}

function stamp(pos: DriverPosition, w: ReplicatedWrite, batch: number): void {
  pos.region = w.region;
  pos.replicationAgeMs = Math.max(0, w.appliedAt - (w.acceptedAt[batch] ?? w.appliedAt));
}
