import type { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import {
  type ApplyOutcome,
  type DriverBatch,
  type DriverRecord,
  type DriverStore,
  type DriverView,
  type NearbyDriver,
  type NearbyOptions,
  type RepairOutcome,
  type StoreTiming,
  type SweepOutcome,
  viewOf,
} from '../../geo/driver-store.js';
import { distanceM } from '../../geo/geodesy.js';
import { vehicleMask } from '../../domain/vehicle.js';
import { APPLY_MODE, applyPayload, pingCell } from './apply-payload.js';
import { HexfleetError } from '../../protocol/error-codes.js';
import { redisCall } from './redis-call.js';
import type { ReplicaAck } from './replica-ack.js';
import { loadScripts } from './load-scripts.js';
import { type CellEntry, nearbyQuery, runNearby, type SliceResult } from '../../geo/nearby-search.js';
import {
  BUCKETS,
  bucketOf,
  decodeEntry,
  decodeRecord,
  RECORD,
  STATUS_CODE,
} from './redis-layout.js';
import type { RingPlanner, RingSlice } from '../../geo/ring-planner.js';

/** Buckets per sweep call: ~60 records each at 1M drivers, so one call stays near 10 ms. */
const SWEEP_BUCKETS_PER_CALL = 256;
/** Half the sweep's: repairIndex.lua also reads each indexed record's cell entry. */
const REPAIR_BUCKETS_PER_CALL = 128;
/** Record buckets per pipeline of scan(): ~60 records each at 1M drivers. */
const SCAN_BUCKETS = 256;
/** SCAN hint for cell keys; a cell holds a few dozen entries, so one repairCells call stays small too. */
const REPAIR_SCAN_COUNT = 500;

interface HexfleetRedis extends Redis {
  hexfleetApplyPingsBuffer(prefix: string, payload: Buffer): Promise<(number | Buffer)[]>;
  hexfleetNearbyBuffer(...args: (string | number)[]): Promise<(Buffer | number)[]>;
  hexfleetSweep(...args: (string | number)[]): Promise<[number, number]>;
  hexfleetRepairIndex(...args: (string | number)[]): Promise<[number, number]>;
  hexfleetRepairCells(...args: (string | number)[]): Promise<[number, number]>;
}

export interface RedisDriverStoreOptions {
  /** The backend's command connection (not closed by the store). */
  redis: Redis;
  /** Versioned prefix of every key, e.g. "hf:v1:". */
  keyPrefix: string;
  timing: StoreTiming;
  planner: RingPlanner;
  /** Durability barrier on `redis` (Sentinel: WAIT for replicas); a write resolves only after it. */
  replicaAck?: ReplicaAck;
}

/**
 * The geo store on a standalone Redis. Layout (see redis-layout.ts):
 *
 *   <prefix>:v1:r:<bucket>   hash  driverId → RECORD (54 bytes)   16384 buckets
 *   <prefix>:v1:c:<h3 cell>  hash  driverId → ENTRY (18 bytes)    one per live cell
 *
 * Records sit in hash buckets rather than one key per driver: a key costs
 * ~70 bytes of overhead, a listpack hash entry a few, which is what keeps a
 * driver under 250 bytes. Every write is one Lua call (atomic); reads are one
 * HGET or one Lua call per ring slice.
 *
 * Failure behaviour: the offline queue is off and a command does not retry,
 * so while Redis is unreachable calls fail fast with `store_unavailable`
 * instead of piling up; ioredis reconnects in the background, and scripts
 * lost in a Redis restart are re-sent (EVALSHA falls back to EVAL).
 */
export class RedisDriverStore implements DriverStore {
  readonly kind = 'redis' as const;
  readonly redis: HexfleetRedis;
  /** `<prefix>:v1:`: every key of this store starts with it. */
  readonly keyPrefix: string;

  constructor(private readonly options: RedisDriverStoreOptions) {
    this.keyPrefix = options.keyPrefix;
    this.redis = options.redis as HexfleetRedis;
    loadScripts(this.redis, ['applyPings', 'nearby', 'sweep', 'repairIndex', 'repairCells']);
  }

  async applyBatches(batches: DriverBatch[]): Promise<ApplyOutcome[]> {
    const { planner } = this.options;
    const payload = applyPayload(batches.map((batch) => ({ batch, bucket: bucketOf(batch.driverId), mode: APPLY_MODE.create })), (p) => pingCell(p, (lat, lng) => planner.cellOf(lat, lng)));
    const reply = await redisCall(() => this.redis.hexfleetApplyPingsBuffer(this.keyPrefix, pack(payload)));
    // Duplicates too: a resent ping may be one whose first write never got its replicas.
    await this.options.replicaAck?.confirm();
    return batches.map((b, i) => outcomeOf(b, reply, i, batches.length));
  }

  async get(driverId: string, now: number): Promise<DriverView | null> {
    const raw = await redisCall(() => this.redis.hgetBuffer(this.keyPrefix + 'r:' + bucketOf(driverId), driverId));
    return raw ? viewOf(decodeRecord(driverId, raw), now, this.options.timing.staleMs) : null;
  }

  async nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]> {
    const q = nearbyQuery(lat, lng, radiusM, options, now, this.options.timing.staleMs);
    const head = [
      this.keyPrefix, lat, lng, radiusM, q.limit, now, q.staleMs, q.includeStale ? 1 : 0,
      q.status === undefined ? -1 : STATUS_CODE[q.status],
      q.vehicles === undefined ? 0 : vehicleMask(q.vehicles),
    ];
    return runNearby(this.options.planner, q, async (slice: RingSlice, prior): Promise<SliceResult> => {
      const args: (string | number)[] = [...head, prior.length, ...prior, slice.rings.length];
      slice.rings.forEach((ring, i) => args.push(slice.bounds[i]!, ring.length, ...ring));
      const reply = await redisCall(() => this.redis.hexfleetNearbyBuffer(...args));
      const found: (CellEntry & { distanceM: number })[] = [];
      for (let k = 1; k + 1 < reply.length; k += 2) {
        const e = decodeEntry((reply[k] as Buffer).toString(), reply[k + 1] as Buffer);
        found.push({ ...e, distanceM: distanceM(q.lat, q.lng, e.lat, e.lng) });
      }
      return { found, complete: reply[0] === 1 };
    });
  }

  async sweep(now: number): Promise<SweepOutcome> {
    const { offlineMs, retentionMs } = this.options.timing;
    const total = { unindexed: 0, removed: 0 };
    for (let first = 0; first < BUCKETS; first += SWEEP_BUCKETS_PER_CALL) {
      const last = Math.min(BUCKETS, first + SWEEP_BUCKETS_PER_CALL) - 1;
      const [unindexed, removed] = await redisCall(() =>
        this.redis.hexfleetSweep(this.keyPrefix, now, offlineMs, retentionMs, first, last),
      );
      total.unindexed += unindexed;
      total.removed += removed;
    }
    return total;
  }

  /**
   * Cell side first (SCAN the cell keys, one repairCells.lua call per batch),
   * then the record side (repairIndex.lua over bucket ranges). Every check
   * runs inside a script, next to the record it compares with: a check done
   * here between two round trips could race with a ping moving the driver.
   */
  async repairIndex(now: number): Promise<RepairOutcome> {
    const total = { found: 0, fixed: 0 };
    const add = ([found, fixed]: [number, number]): void => {
      total.found += found;
      total.fixed += fixed;
    };
    let cursor = '0';
    do {
      const [next, keys] = await redisCall(() => this.redis.scan(cursor, 'MATCH', this.keyPrefix + 'c:*', 'COUNT', REPAIR_SCAN_COUNT));
      cursor = next;
      if (keys.length > 0) add(await redisCall(() => this.redis.hexfleetRepairCells(keys.length, ...keys, this.keyPrefix, BUCKETS)));
    } while (cursor !== '0');
    const { offlineMs } = this.options.timing;
    for (let first = 0; first < BUCKETS; first += REPAIR_BUCKETS_PER_CALL) {
      const last = Math.min(BUCKETS, first + REPAIR_BUCKETS_PER_CALL) - 1;
      add(await redisCall(() => this.redis.hexfleetRepairIndex(this.keyPrefix, now, offlineMs, first, last)));
    }
    return total;
  }

  /** Record buckets in pipelines of SCAN_BUCKETS (HGETALL each), a page per pipeline. */
  async scan(onPage: (records: DriverRecord[]) => void): Promise<void> {
    for (let first = 0; first < BUCKETS; first += SCAN_BUCKETS) {
      const pipeline = this.redis.pipeline();
      for (let b = first; b < Math.min(BUCKETS, first + SCAN_BUCKETS); b++) pipeline.hgetallBuffer(this.keyPrefix + 'r:' + b);
      const replies = await redisCall(async () => (await pipeline.exec()) ?? []);
      const page: DriverRecord[] = [];
      for (const [err, all] of replies) {
        if (err) throw new HexfleetError('store_unavailable', undefined, { cause: err });
        for (const [id, raw] of Object.entries(all as Record<string, Buffer>)) page.push(decodeRecord(id, raw));
      }
      if (page.length > 0) onPage(page);
    }
  }

  async check(): Promise<void> {
    await redisCall(() => this.redis.ping());
  }

  /** The connection belongs to the backend, which closes it. */
  async close(): Promise<void> {}

}

/**
 * Batch `i`'s outcome from an applyPings.lua reply (its header has the
 * format): the count of applied pings, and the record as stored afterwards.
 */
export function outcomeOf(batch: DriverBatch, reply: readonly (number | Buffer)[], i: number, n: number): ApplyOutcome {
  const applied = Number(reply[i]);
  const raw = reply[n + i];
  const outcome: ApplyOutcome = { applied, duplicates: batch.pings.length - applied };
  if (Buffer.isBuffer(raw) && raw.length === RECORD.size) outcome.record = decodeRecord(batch.driverId, raw);
  return outcome;
}
