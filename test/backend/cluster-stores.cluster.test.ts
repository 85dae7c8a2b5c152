import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterLayout } from '../../src/backend/redis/cluster/cluster-layout.js';
import { keySlot } from '../../src/backend/redis/cluster/key-slot.js';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { clusterTarget, openTestBackend, TEST_AREA_RESOLUTION, TEST_TIMING, type TestBackend, uniquePrefix } from '../support/backends.js';
import { clusterIndexTamper } from '../support/index-tamper.js';
import { driverStoreContract } from '../geo/driver-store.contract.js';
import { orderStoreContract } from '../orders/order-store.contract.js';
import { pubSubContract } from './pubsub.contract.js';
import type { StoreTiming } from '../../src/geo/driver-store.js';

/**
 * The Cluster engine against the same conformance suites as every engine,
 * on one real 6-node cluster (3 primaries, 3 replicas) for the file. Areas
 * are TEST_AREA_RESOLUTION (6, ~36 km²) rather than the default 3, so the
 * suites' data sets — a city, cell edges, the antimeridian, the poles, a
 * pentagon — spread over many areas and shards, and nearby queries cross
 * shard boundaries.
 */
const NOW = 1_750_000_000_000;

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

function open(timing: StoreTiming, o: { resolution?: number; prefix?: string } = {}): Promise<TestBackend> {
  return openTestBackend('cluster', {
    target: clusterTarget(cluster),
    timing,
    h3Resolution: o.resolution ?? 9,
    ...(o.prefix ? { prefix: o.prefix } : {}),
  });
}

driverStoreContract('ClusterDriverStore', async (timing, resolution) => {
  const t = await open(timing, { resolution });
  const layout = new ClusterLayout(`${t.prefix}:v1:`, TEST_AREA_RESOLUTION);
  return { store: t.backend.drivers, tamper: clusterIndexTamper(t.data as Cluster, layout, NOW), cleanup: () => t.cleanup() };
});

/**
 * Redis's clock cannot be moved, but all it governs here is key expiry: `ms`
 * of Redis time shortens every TTL by `ms` and removes the keys it runs out
 * (one key at a time: a cluster's keys are on many shards).
 */
const ADVANCE = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  if ttl <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ttl - tonumber(ARGV[1])) end
end
return 0`;

async function advance(c: Cluster, prefix: string, ms: number): Promise<void> {
  for (const node of c.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) await c.eval(ADVANCE, 1, key, ms);
    } while (cursor !== '0');
  }
}

orderStoreContract('ClusterOrderStore', async (timing) => {
  const t = await open(timing);
  return {
    orders: t.backend.orders,
    drivers: t.backend.drivers,
    advanceStoreClock: (ms) => advance(t.data as Cluster, t.prefix, ms),
    cleanup: () => t.cleanup(),
    outboxOrder: 'per-order',
  };
});

pubSubContract('cluster', {
  sharedAcrossProcesses: true,
  async make() {
    const prefix = uniquePrefix();
    const opened: TestBackend[] = [];
    return {
      async open() {
        const t = await open(TEST_TIMING, { prefix });
        opened.push(t);
        return t.backend;
      },
      async cleanup() {
        for (const t of opened.splice(0)) await t.cleanup();
      },
    };
  },
});

describe('the Cluster layout', () => {
  it('computes the slot Redis computes, hash tags included', async () => {
    const c = cluster.client();
    try {
      for (const key of ['hf:v1:{a861f1d48fffffff}r:17', 'plain-key', 'x{}y', '{}', 'a{b}c{d}', 'hf:v1:{h123}res:drv-1', 'ü{ñ}']) {
        expect(keySlot(key), key).toBe(Number(await c.cluster('KEYSLOT', key)));
      }
    } finally {
      c.disconnect();
    }
  });
});
