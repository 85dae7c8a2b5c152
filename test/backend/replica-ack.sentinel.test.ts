import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SentinelGroup } from '../../kit/redis-sentinel.js';
import type { RedisServer } from '../../kit/redis-server.js';
import { HexfleetError } from '../../src/protocol/error-codes.js';
import { ReplicaAck } from '../../src/backend/redis/replica-ack.js';
import { uniquePrefix } from '../support/backends.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The WAIT barrier on a real primary and replica: writers share WAITs
 * (group commit), a write whose WAIT comes back short fails with
 * store_unavailable, and after that the barrier fails fast instead of
 * holding the connection for the whole timeout each time, until a replica
 * is fresh again.
 */

/** WAIT commands the server has run (INFO commandstats). */
async function waitCalls(node: RedisServer): Promise<number> {
  return Number(/calls=(\d+)/.exec((await node.info('commandstats')).cmdstat_wait ?? '')?.[1] ?? 0);
}

describe('ReplicaAck (WAIT after writes, group commit)', () => {
  let group: SentinelGroup;
  let primary: RedisServer;
  let redis: Redis;
  const prefix = uniquePrefix();
  const waits: { replicas: number; ok: boolean }[] = [];

  beforeAll(async () => {
    group = await SentinelGroup.start({ downAfterMs: 60_000 }); // no failover in this file: a stalled replica is not a dead primary
    primary = await group.primary();
    redis = new Redis(primary.url, { maxRetriesPerRequest: 0 });
  });
  afterAll(async () => {
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    await group?.stop();
  });

  const barrier = (timeoutMs: number): ReplicaAck =>
    new ReplicaAck({ redis, minReplicas: 1, timeoutMs, observer: { waited: (_s, replicas, ok) => waits.push({ replicas, ok }) } });

  it('answers 200 concurrent writers with far fewer WAITs, each writer after its own write is on the replica', async () => {
    const ack = barrier(1000);
    waits.length = 0;
    await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      await redis.set(`${prefix}:k${i}`, String(i));
      await ack.confirm();
    }));
    expect(waits.every((w) => w.ok && w.replicas >= 1)).toBe(true);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits.length).toBeLessThan(200);
    const replica = group.nodes.find((n) => n !== primary)!;
    // Confirmed means on the replica: every key is there now, read from the replica itself.
    const onReplica = await replica.client.mget(...Array.from({ length: 200 }, (_, i) => `${prefix}:k${i}`));
    expect(onReplica).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it('fails a write whose replica is stalled with store_unavailable, then fails fast until the replica is back', async () => {
    const ack = barrier(300);
    const replica = group.nodes.find((n) => n !== primary)!;
    replica.pause();
    try {
      await redis.set(`${prefix}:stalled`, '1');
      const first = await ack.confirm().then(() => null, (e: unknown) => e);
      expect(first).toBeInstanceOf(HexfleetError);
      expect((first as HexfleetError).code).toBe('store_unavailable');
      expect((first as HexfleetError).message).toMatch(/may or may not survive a failover; it was not acked/);
      // The replica's last ack grows older; once it is past the freshness bound, writes fail without a WAIT.
      const failFast = async (): Promise<boolean> => {
        const err = await ack.confirm().then(() => null, (e: unknown) => e);
        return err instanceof HexfleetError && err.code === 'store_unavailable' && /replicas are online and acking/.test(err.message);
      };
      await waitFor(failFast, { what: 'a fail-fast answer while the replica is stalled' });
      // Failing fast sends no WAIT at all, so nothing queued behind it on the connection waits for the timeout.
      const before = await waitCalls(primary);
      expect(await failFast()).toBe(true);
      expect(await waitCalls(primary)).toBe(before);
    } finally {
      replica.resume();
    }
    await waitFor(() => ack.confirm().then(() => true, () => false), { what: 'writes confirmed again once the replica is back' });
  });
});
