import type { Cluster } from 'ioredis';
import { HexfleetError } from '../../../protocol/error-codes.js';
import { redisCall } from '../redis-call.js';

/** SCAN hint: a cluster's key space is read a thousand keys per round trip. */
const SCAN_COUNT = 1000;

/**
 * Every key matching `pattern` on every primary of the cluster, in pages
 * (`onKeys` per SCAN reply). Like SCAN itself, not a snapshot: a key written
 * during the scan may or may not be seen.
 */
export async function scanAll(cluster: Cluster, pattern: string, onKeys: (keys: string[]) => void | Promise<void>): Promise<void> {
  // Before the client knows the cluster it knows no primary: an empty list would read as "no keys".
  if (cluster.status !== 'ready') throw new HexfleetError('store_unavailable', `the Redis Cluster client is ${cluster.status}, not ready`);
  for (const node of cluster.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await redisCall(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      cursor = next;
      if (keys.length > 0) await onKeys(keys);
    } while (cursor !== '0');
  }
}
