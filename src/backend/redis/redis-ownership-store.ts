import { Cluster, type Redis } from 'ioredis';
import { loadScripts } from './load-scripts.js';
import { redisCall } from './redis-call.js';
import { checkOwnership, type Ownership, parseOwnership } from '../../ownership/ownership.js';
import type { OwnershipApplied, OwnershipStore } from '../../ownership/ownership-store.js';

interface OwnershipRedis {
  get(key: string): Promise<string | null>;
  mget(keys: string[]): Promise<(string | null)[]>;
  hexfleetApplyOwnership(key: string, epoch: number, region: string): Promise<[number, string]>;
}

/**
 * Ownership records in Redis (standalone, Sentinel, Cluster): one string per
 * driver, "epoch region", written only by applyOwnership.lua. `keyOf` places
 * it: `<prefix>own:<driverId>` on one Redis; on Cluster the driver's shard
 * prefix, so that the reserving scripts read it with the reservation.
 */
export class RedisOwnershipStore implements OwnershipStore {
  private readonly redis: OwnershipRedis;
  /** Redis Cluster: one MGET may not span slots, so each driver's key is read on its own (in parallel). */
  private readonly sharded: boolean;

  constructor(redis: Redis | Cluster, private readonly keyOf: (driverId: string) => string) {
    this.redis = redis as unknown as OwnershipRedis;
    this.sharded = redis instanceof Cluster;
    loadScripts(redis, ['applyOwnership']);
  }

  async get(driverId: string): Promise<Ownership | null> {
    return parseOwnership(await redisCall(() => this.redis.get(this.keyOf(driverId))));
  }

  async regionsOf(driverIds: readonly string[]): Promise<(string | null)[]> {
    if (driverIds.length === 0) return [];
    const keys = driverIds.map(this.keyOf);
    const values = this.sharded
      ? await Promise.all(keys.map((k) => redisCall(() => this.redis.get(k))))
      : await redisCall(() => this.redis.mget(keys));
    return values.map((v) => parseOwnership(v)?.region ?? null);
  }

  async apply(driverId: string, record: Ownership): Promise<OwnershipApplied> {
    checkOwnership(record);
    const [written, other] = await redisCall(() => this.redis.hexfleetApplyOwnership(this.keyOf(driverId), record.epoch, record.region));
    if (written === 1) return { applied: true, previous: parseOwnership(other === '' ? null : other), current: { ...record } };
    const held = parseOwnership(other)!;
    return { applied: false, previous: held, current: held };
  }
}

/** The ownership key of a driver on one Redis (standalone, Sentinel): `<prefix>own:<driverId>`. */
export function ownershipKeyOf(prefix: string): (driverId: string) => string {
  return (driverId) => `${prefix}own:${driverId}`;
}
