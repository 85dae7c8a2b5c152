import type { Cluster } from 'ioredis';
import { pack } from 'msgpackr';
import { vehicleMask } from '../../../domain/vehicle.js';
import {
  type ApplyOutcome,
  type DriverBatch,
  type DriverRecord,
  type DriverStore,
  type DriverView,
  type NearbyDriver,
  type NearbyOptions,
  type Ping,
  type RepairOutcome,
  type StoreTiming,
  type SweepOutcome,
  viewOf,
} from '../../../geo/driver-store.js';
import { distanceM } from '../../../geo/geodesy.js';
import { type CellEntry, nearbyQuery, runNearby, type SliceResult } from '../../../geo/nearby-search.js';
import type { RingPlanner, RingSlice } from '../../../geo/ring-planner.js';
import { HexfleetError } from '../../../protocol/error-codes.js';
import { APPLY_MODE, applyPayload, type PayloadDriver, pingCell, winningPing } from '../apply-payload.js';
import { loadScripts } from '../load-scripts.js';
import { redisCall } from '../redis-call.js';
import { decodeEntry, decodeRecord, RECORD, STATUS_CODE } from '../redis-layout.js';
import { outcomeOf } from '../redis-driver-store.js';
import { AREA_BUCKETS, type ClusterLayout } from './cluster-layout.js';
import { scanAll } from './scan-all.js';

/** One driver's answer from applyPings.lua: applied pings (−1, −2: not written here) and the record as stored. */
interface Applied {
  count: number;
  record?: DriverRecord;
}

interface ClusterRedis extends Cluster {
  hexfleetApplyPingsBuffer(route: string, prefix: string, payload: Buffer): Promise<(number | Buffer)[]>;
  hexfleetNearbyBuffer(route: string, ...args: (string | number)[]): Promise<(Buffer | number)[]>;
  hexfleetSweep(route: string, ...args: (string | number)[]): Promise<[number, number]>;
  hexfleetRepairIndex(route: string, ...args: (string | number)[]): Promise<[number, number]>;
  hexfleetRepairCells(...args: (string | number)[]): Promise<[number, number]>;
  hexfleetSetHome(homeKey: string, driverId: string, area: string, seq: number, force: 0 | 1): Promise<string>;
  hexfleetLeaveArea(recordKey: string, areaPrefix: string, driverId: string, seq: number): Promise<number>;
}

export interface ClusterDriverStoreOptions {
  cluster: Cluster;
  layout: ClusterLayout;
  timing: StoreTiming;
  planner: RingPlanner;
  /** Resolves once the writes made so far under `key`'s hash tag are durable enough to ack (WAIT on its shard); default: at once. */
  confirm?: (key: string) => Promise<void>;
  /** Called once per driver moved into another area (metrics). */
  onMove?: () => void;
}

/** Attempts of a driver's move before the batch fails (store_unavailable, retryable): each one lost a race with another writer. */
const MOVE_ATTEMPTS = 4;
/** Drivers whose area this process remembers; past it the memory starts over (a miss costs one directory read). */
const HOMES_CACHED = 1_000_000;

/**
 * The geo store on Redis Cluster, sharded by area (see cluster-layout.ts).
 *
 * A ping batch is one applyPings.lua call per area its drivers are in, on
 * that area's shard: the common case, a driver staying in its area, is as
 * cheap as on one Redis. A driver entering another area moves in steps that
 * are each atomic on one shard and safe to retry or to race with newer pings
 * (every step is seq-guarded):
 *
 *   1. its record is written in the new area, seeded from the old one's
 *      (applyPings.lua mode seeded: sticky status and vehicle travel along);
 *   2. the home directory names the new area (setHome.lua: highest seq wins);
 *   3. the old area's record and cell entry go (leaveArea.lua: unless newer).
 *
 * Between 1 and 3 the driver has a record in both areas: reads take the
 * directory's, nearby() keeps the newer entry of a driver found twice, and
 * repairIndex() finishes a move a crash interrupted.
 */
export class ClusterDriverStore implements DriverStore {
  readonly kind = 'redis' as const;
  private readonly cluster: ClusterRedis;
  private readonly layout: ClusterLayout;
  /** driverId → the area this process last wrote its record in. */
  private readonly homes = new Map<string, string>();

  constructor(private readonly options: ClusterDriverStoreOptions) {
    this.cluster = options.cluster as ClusterRedis;
    this.layout = options.layout;
    loadScripts(this.cluster, ['applyPings', 'nearby', 'sweep', 'repairIndex', 'repairCells', 'setHome', 'leaveArea'], { routed: true });
  }

  private cellOf = (lat: number, lng: number): string => this.options.planner.cellOf(lat, lng);
  /**
   * A ping's cell, computed once per ping: the area a batch goes to and the
   * payload of its call need the same cell (H3 indexing is the costly part).
   */
  private readonly pingCells = new WeakMap<Ping, string>();
  private cellOfPing = (p: Ping): string => {
    let cell = this.pingCells.get(p);
    if (cell === undefined) this.pingCells.set(p, (cell = pingCell(p, this.cellOf)));
    return cell;
  };

  /**
   * Batches of one driver apply in the order given: a call is cut into
   * rounds, the n-th batch of every driver in round n (one round, usually).
   */
  async applyBatches(batches: DriverBatch[]): Promise<ApplyOutcome[]> {
    const applied = new Array<number>(batches.length).fill(0);
    const records = new Array<DriverRecord | undefined>(batches.length);
    const failed = new Map<number, HexfleetError>();
    const rounds: number[][] = [];
    const seen = new Map<string, number>();
    batches.forEach((b, i) => {
      if (b.pings.length === 0) return; // nothing to apply, nothing to ask
      const n = seen.get(b.driverId) ?? 0;
      seen.set(b.driverId, n + 1);
      (rounds[n] ??= []).push(i);
    });
    const failedDrivers = new Map<string, HexfleetError>();
    for (const round of rounds) {
      // A driver whose earlier batch failed skips the later ones: they would apply out of order.
      const go: number[] = [];
      for (const i of round) {
        const earlier = failedDrivers.get(batches[i]!.driverId);
        if (earlier) failed.set(i, earlier);
        else go.push(i);
      }
      await this.applyRound(batches, go, applied, records, failed);
      for (const [i, err] of failed) failedDrivers.set(batches[i]!.driverId, err);
    }
    if (failed.size > 0 && failed.size === batches.filter((b) => b.pings.length > 0).length) throw failed.values().next().value!;
    return batches.map((b, i) => {
      const error = failed.get(i);
      if (error) return { applied: 0, duplicates: 0, failed: error };
      const record = records[i];
      return record ? { applied: applied[i]!, duplicates: b.pings.length - applied[i]!, record } : { applied: applied[i]!, duplicates: b.pings.length - applied[i]! };
    });
  }

  /** One batch per driver: one call per known area, then the drivers this process could not place, one by one. */
  private async applyRound(
    batches: DriverBatch[], round: number[], applied: number[], records: (DriverRecord | undefined)[], failed: Map<number, HexfleetError>,
  ): Promise<void> {
    const byArea = new Map<string, number[]>();
    const slow: number[] = [];
    for (const i of round) {
      const batch = batches[i]!;
      const known = this.homes.get(batch.driverId);
      const w = winningPing(batch.pings, -1, undefined);
      const area = w ? this.layout.areaOf(this.cellOfPing(w)) : undefined;
      if (known !== undefined && (area === undefined || area === known)) {
        const list = byArea.get(known);
        if (list) list.push(i);
        else byArea.set(known, [i]);
      } else {
        slow.push(i);
      }
    }
    await Promise.all([...byArea].map(async ([area, idx]) => {
      let got: Applied[];
      try {
        got = await this.applyIn(area, idx.map((i) => ({ batch: batches[i]!, bucket: this.layout.areaBucket(batches[i]!.driverId), mode: APPLY_MODE.mustExist })));
      } catch (err) {
        for (const i of idx) failed.set(i, asStoreError(err));
        return;
      }
      idx.forEach((i, k) => {
        const { count, record } = got[k]!;
        if (count < 0) return void slow.push(i);
        applied[i] = count;
        records[i] = record;
      });
    }));
    await Promise.all(slow.map(async (i) => {
      try {
        const { count, record } = await this.applyOne(batches[i]!);
        applied[i] = count;
        records[i] = record;
      } catch (err) {
        failed.set(i, asStoreError(err));
      }
    }));
  }

  /** One applyPings.lua call on `area`'s shard; per driver, in order, its count (−1, −2: not written, see the script) and record. */
  private async applyIn(area: string, drivers: PayloadDriver[]): Promise<Applied[]> {
    const prefix = this.layout.areaPrefix(area);
    const payload = applyPayload(drivers.map((d) => ({ ...d, inScope: (cell: string) => this.layout.areaOf(cell) === area })), this.cellOfPing);
    const reply = await redisCall(() => this.cluster.hexfleetApplyPingsBuffer(prefix, prefix, pack(payload)));
    await this.options.confirm?.(prefix);
    return drivers.map((d, k) => {
      const { applied, record } = outcomeOf(d.batch, reply, k, drivers.length);
      return record ? { count: applied, record } : { count: applied };
    });
  }

  /**
   * A driver this process cannot place from memory: asks the directory where
   * its record is, works out where the batch leaves it (the script's own rule,
   * winningPing), and applies it there — moving the record when that is
   * another area. Retried when another writer got in between.
   */
  private async applyOne(batch: DriverBatch): Promise<Applied> {
    const { driverId, pings } = batch;
    const bucket = this.layout.areaBucket(driverId);
    const maxSeq = pings.reduce((m, p) => Math.max(m, p.seq), -1);
    for (let attempt = 0; attempt < MOVE_ATTEMPTS; attempt++) {
      const home = await redisCall(() => this.cluster.hget(this.layout.homeKey(driverId), driverId));
      const from = home?.split(' ')[0];
      const raw = from ? await redisCall(() => this.cluster.hgetBuffer(this.layout.areaPrefix(from) + 'r:' + bucket, driverId)) : null;
      const record = raw && raw.length === RECORD.size ? decodeRecord(driverId, raw) : undefined;
      const w = winningPing(pings, record?.seq ?? -1, record?.ts);
      const to = w ? this.layout.areaOf(this.cellOfPing(w)) : from;
      if (!to) break; // no record and nothing to place: cannot happen for a non-empty batch
      if (!record || to === from) {
        const [got] = await this.applyIn(to, [{ batch, bucket, mode: record ? APPLY_MODE.mustExist : APPLY_MODE.create }]);
        if (got!.count < 0) continue;
        // No record where the directory pointed (none yet, or forgotten after the retention): this one is home now.
        if (!record) await this.setHome(driverId, to, Math.max(maxSeq, 0), true);
        this.remember(driverId, to);
        return got!;
      }
      const [got] = await this.applyIn(to, [{ batch, bucket, mode: APPLY_MODE.seeded, seed: raw! }]);
      if (got!.count < 0) continue;
      const seq = Math.max(record.seq, maxSeq);
      await this.setHome(driverId, to, seq);
      await redisCall(() => this.cluster.hexfleetLeaveArea(this.layout.areaPrefix(from!) + 'r:' + bucket, this.layout.areaPrefix(from!), driverId, seq));
      await this.options.confirm?.(this.layout.areaPrefix(from!));
      this.options.onMove?.();
      this.remember(driverId, to);
      return got!;
    }
    throw new HexfleetError('store_unavailable', `driver ${driverId} was moved by another writer during every attempt; the batch is not acked, retry it`);
  }

  private async setHome(driverId: string, area: string, seq: number, force = false): Promise<void> {
    const key = this.layout.homeKey(driverId);
    await redisCall(() => this.cluster.hexfleetSetHome(key, driverId, area, seq, force ? 1 : 0));
    await this.options.confirm?.(key);
  }

  private remember(driverId: string, area: string): void {
    if (this.homes.size >= HOMES_CACHED && !this.homes.has(driverId)) this.homes.clear();
    this.homes.set(driverId, area);
  }

  async get(driverId: string, now: number): Promise<DriverView | null> {
    // Twice at most: a move that finished between the two reads took the record from the area first read.
    for (let attempt = 0; attempt < 2; attempt++) {
      const home = await redisCall(() => this.cluster.hget(this.layout.homeKey(driverId), driverId));
      if (!home) return null;
      const area = home.split(' ')[0]!;
      const raw = await redisCall(() => this.cluster.hgetBuffer(this.layout.areaPrefix(area) + 'r:' + this.layout.areaBucket(driverId), driverId));
      if (raw) return viewOf(decodeRecord(driverId, raw), now, this.options.timing.staleMs);
    }
    return null;
  }

  /**
   * The rings of each slice split by area, one nearby.lua call per area (in
   * parallel, on their shards), merged. Still exact: every call gets every
   * ring's bound (with only its own cells), so a call that stops early has
   * `limit` drivers nearer than any it skipped, and the merge keeps the
   * nearest of all calls.
   */
  async nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]> {
    const q = nearbyQuery(lat, lng, radiusM, options, now, this.options.timing.staleMs);
    const head = [
      lat, lng, radiusM, q.limit, now, q.staleMs, q.includeStale ? 1 : 0,
      q.status === undefined ? -1 : STATUS_CODE[q.status],
      q.vehicles === undefined ? 0 : vehicleMask(q.vehicles),
    ];
    return runNearby(this.options.planner, q, async (slice: RingSlice, prior): Promise<SliceResult> => {
      const byArea = new Map<string, string[][]>();
      slice.rings.forEach((ring, r) => {
        for (const cell of ring) {
          const area = this.layout.areaOf(cell);
          let rings = byArea.get(area);
          if (!rings) byArea.set(area, (rings = slice.rings.map(() => [])));
          rings[r]!.push(cell);
        }
      });
      const replies = await Promise.all([...byArea].map(([area, rings]) => {
        const prefix = this.layout.areaPrefix(area);
        const args: (string | number)[] = [prefix, ...head, prior.length, ...prior, rings.length];
        rings.forEach((cells, i) => args.push(slice.bounds[i]!, cells.length, ...cells));
        return redisCall(() => this.cluster.hexfleetNearbyBuffer(prefix, ...args));
      }));
      const newest = new Map<string, CellEntry & { distanceM: number }>();
      let complete = false;
      for (const reply of replies) {
        if (reply[0] === 1) complete = true;
        for (let k = 1; k + 1 < reply.length; k += 2) {
          const e = decodeEntry((reply[k] as Buffer).toString(), reply[k + 1] as Buffer);
          const seen = newest.get(e.driverId);
          // A driver moving between areas has an entry in both for a moment: the newer one is where it is.
          if (!seen || e.ts > seen.ts) newest.set(e.driverId, { ...e, distanceM: distanceM(q.lat, q.lng, e.lat, e.lng) });
        }
      }
      const found = [...newest.values()];
      const last = slice.bounds[slice.bounds.length - 1] ?? 0;
      if (!complete && (last >= radiusM || prior.filter((d) => d <= last).length + found.filter((f) => f.distanceM <= last).length >= q.limit)) {
        complete = true;
      }
      return { found, complete };
    });
  }

  /** The areas holding records now (SCAN of every primary). */
  private async areas(pattern: string): Promise<Map<string, string[]>> {
    const byArea = new Map<string, string[]>();
    await scanAll(this.cluster, pattern, (keys) => {
      for (const key of keys) {
        const area = this.layout.areaOfKey(key);
        const list = byArea.get(area);
        if (list) list.push(key);
        else byArea.set(area, [key]);
      }
    });
    return byArea;
  }

  async sweep(now: number): Promise<SweepOutcome> {
    const { offlineMs, retentionMs } = this.options.timing;
    const total = { unindexed: 0, removed: 0 };
    for (const area of (await this.areas(this.layout.recordPattern)).keys()) {
      const prefix = this.layout.areaPrefix(area);
      const [unindexed, removed] = await redisCall(() => this.cluster.hexfleetSweep(prefix, prefix, now, offlineMs, retentionMs, 0, AREA_BUCKETS - 1));
      total.unindexed += unindexed;
      total.removed += removed;
    }
    return total;
  }

  /**
   * Per area, as on one Redis (repairCells.lua, then repairIndex.lua), then
   * the moves: every record is checked against the home directory, and a
   * move a crash left half done is finished (the directory names the record
   * with the highest seq; any other record of the driver is removed).
   */
  async repairIndex(now: number): Promise<RepairOutcome> {
    const total = { found: 0, fixed: 0 };
    const add = ([found, fixed]: [number, number]): void => {
      total.found += found;
      total.fixed += fixed;
    };
    for (const [area, keys] of await this.areas(this.layout.cellPattern)) {
      const prefix = this.layout.areaPrefix(area);
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        add(await redisCall(() => this.cluster.hexfleetRepairCells(chunk.length, ...chunk, prefix, AREA_BUCKETS)));
      }
    }
    const records = await this.areas(this.layout.recordPattern);
    for (const area of records.keys()) {
      const prefix = this.layout.areaPrefix(area);
      add(await redisCall(() => this.cluster.hexfleetRepairIndex(prefix, prefix, now, this.options.timing.offlineMs, 0, AREA_BUCKETS - 1)));
    }
    for (const [area, keys] of records) add(await this.repairMoves(area, keys));
    return total;
  }

  private async repairMoves(area: string, keys: string[]): Promise<[number, number]> {
    let found = 0;
    for (const key of keys) {
      const all = await redisCall(() => this.cluster.hgetallBuffer(key));
      for (const [driverId, raw] of Object.entries(all)) {
        const seq = decodeRecord(driverId, raw).seq;
        const home = await redisCall(() => this.cluster.hget(this.layout.homeKey(driverId), driverId));
        const [homeArea, homeSeq] = home ? [home.split(' ')[0]!, Number(home.split(' ')[1])] : [undefined, -1];
        if (homeArea === area) continue;
        found++;
        if (seq > homeSeq) {
          await this.setHome(driverId, area, seq);
        } else {
          await redisCall(() => this.cluster.hexfleetLeaveArea(key, this.layout.areaPrefix(area), driverId, homeSeq));
        }
        this.homes.delete(driverId);
      }
    }
    return [found, found];
  }

  /** Every area's record buckets (SCAN of every primary), a page per SCAN reply. */
  /** Every area's record buckets (SCAN), or, given `areas`, just theirs (AREA_BUCKETS keys each, no SCAN). */
  async scan(onPage: (records: DriverRecord[]) => void, areas?: readonly string[]): Promise<void> {
    const read = async (keys: string[]): Promise<void> => {
      const page: DriverRecord[] = [];
      for (const all of await Promise.all(keys.map((k) => redisCall(() => this.cluster.hgetallBuffer(k))))) {
        for (const [id, raw] of Object.entries(all)) page.push(decodeRecord(id, raw));
      }
      if (page.length > 0) onPage(page);
    };
    if (areas === undefined) return scanAll(this.cluster, this.layout.recordPattern, read);
    for (const area of new Set(areas.map((a) => this.layout.areaOf(a)))) {
      await read(Array.from({ length: AREA_BUCKETS }, (_, b) => this.layout.areaPrefix(area) + 'r:' + b));
    }
  }

  async check(): Promise<void> {
    await Promise.all(this.cluster.nodes('master').map((n) => redisCall(() => n.ping())));
  }

  /** The connection belongs to the backend, which closes it. */
  async close(): Promise<void> {}
}

function asStoreError(err: unknown): HexfleetError {
  return err instanceof HexfleetError ? err : new HexfleetError('store_unavailable', undefined, { cause: err });
}
