import { areaOfCell } from '../../../geo/market-area.js';
import { bucketOf } from '../redis-layout.js';

/**
 * Where the Cluster engine keeps each key. Redis Cluster runs a script only
 * when every key it touches hashes to one slot, so every key carries a hash
 * tag `{…}` and each script works inside one tag:
 *
 *   tag            key (after the versioned prefix P = "<prefix>:v1:")      what
 *   {a<area>}      P{a<area>}r:<b>      hash driverId → RECORD              drivers whose position is in the area
 *                  P{a<area>}c:<cell>   hash driverId → ENTRY               the cell index of the area's cells
 *   {h<bucket>}    P{h<bucket>}home     hash driverId → "<area> <seq>"      which area holds a driver's record
 *                  P{h<bucket>}res:<d>  string "orderId fence takenAt"      a driver's reservation (PX lease)
 *                  P{h<bucket>}own:<d>  string "epoch region"            a driver's home region (src/ownership/ownership.ts)
 *   {o<k>}         P{o<k>}o:<orderId>   hash { doc, v, f }                  an order, k = bucketOf(orderId) mod 16
 *                  P{o<k>}o:open / o:due / outbox                           the shard's open set, deadlines, outbox stream
 *   (none)         P idem:<key>         string                              Idempotency-Key → orderId (one key)
 *                  P fence              counter                             fencing tokens (INCR, one step before reserving)
 *
 * An area is the H3 parent of a driver's cell at HEXFLEET_REDIS_AREA_RESOLUTION
 * (a market): a driver's record and its cell entries share the area's tag,
 * so a ping is one script on one shard, and a nearby query reads the few
 * areas its rings cover. `<b>` is the record bucket within the area
 * (AREA_BUCKETS of them: small hashes stay in Redis's compact encoding).
 * The home directory and the reservation are keyed by the driver's id (the
 * 16384 buckets of redis-layout.ts), so they never move when the driver
 * crosses into another area; orders are keyed by their id.
 */
export const AREA_BUCKETS = 256;
/** Order shards: tags {o0}..{o15}, spread over the cluster's slots. */
export const ORDER_SHARDS = 16;

export class ClusterLayout {
  constructor(
    /** The versioned prefix, e.g. "hf:v1:". */
    readonly p: string,
    /** H3 resolution of an area. */
    readonly areaResolution: number,
  ) {}

  /** The area of an H3 cell (its parent at the area resolution; the unit the position bus fans out by too). */
  areaOf(cell: string): string {
    return areaOfCell(cell, this.areaResolution);
  }

  /** The prefix of an area's keys: applyPings.lua, nearby.lua, sweep.lua … run under it. */
  areaPrefix(area: string): string {
    return `${this.p}{a${area}}`;
  }

  /** A driver's record bucket within its area. */
  areaBucket(driverId: string): number {
    return bucketOf(driverId) % AREA_BUCKETS;
  }

  /** The prefix of a driver's home directory and reservation keys. */
  driverPrefix(driverId: string): string {
    return `${this.p}{h${bucketOf(driverId)}}`;
  }

  homeKey(driverId: string): string {
    return this.driverPrefix(driverId) + 'home';
  }

  reservationKey(driverId: string): string {
    return this.driverPrefix(driverId) + 'res:' + driverId;
  }

  /** A driver's ownership record (src/ownership/ownership.ts), beside its reservation: reserveDriver.lua reads both in one step. */
  ownershipKey(driverId: string): string {
    return this.driverPrefix(driverId) + 'own:' + driverId;
  }

  /** The prefix of an order's keys (commitOrder.lua and restoreOrder.lua run under it). */
  orderPrefix(orderId: string): string {
    return this.orderShardPrefix(bucketOf(orderId) % ORDER_SHARDS);
  }

  orderShardPrefix(shard: number): string {
    return `${this.p}{o${shard}}`;
  }

  /** The one fence counter (a key of its own: fences only grow, across every driver). */
  get fenceKey(): string {
    return `${this.p}fence`;
  }

  idempotencyKey(key: string): string {
    return `${this.p}idem:${key}`;
  }

  /** SCAN pattern of every area's record buckets, and the area a matching key belongs to. */
  get recordPattern(): string {
    return `${this.p}{a*}r:*`;
  }

  get cellPattern(): string {
    return `${this.p}{a*}c:*`;
  }

  get reservationPattern(): string {
    return `${this.p}{h*}res:*`;
  }

  /** The area named by a key of recordPattern or cellPattern. */
  areaOfKey(key: string): string {
    return key.slice(this.p.length + 2, key.indexOf('}', this.p.length));
  }
}
