import { Cluster, type Redis } from 'ioredis';
import type { BackupTarget } from './backup-target.js';
import type { KeyRecord } from './key-record.js';

/** One primary of a target, scanned on its own. */
export interface Shard {
  index: number;
  /** host:port. */
  node: string;
  client: Redis;
}

/**
 * Keys per SCAN call and per DUMP pipeline: ~1,000 keys of record buckets
 * (~9 KB each at 1M drivers) is ~9 MB in one reply, short enough that Redis
 * serves other clients between two pipelines.
 */
const SCAN_COUNT = 1000;

/**
 * The shards of a target: the one Redis, or every primary of a cluster
 * (ordered by address, so the same cluster numbers its shards the same way
 * in every backup).
 */
export function shardsOf(target: BackupTarget): Shard[] {
  const nodes = target.client instanceof Cluster ? target.client.nodes('master') : [target.client];
  return nodes
    .map((client) => ({ client, node: `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}` }))
    .sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }))
    .map((s, index) => ({ ...s, index }));
}

/**
 * Streams every key of one shard under `keyPrefix`, a SCAN page at a time:
 * DUMP and PTTL of the page's keys in one pipeline, handed to `onRecords`
 * before the next page is read. Reads the primary (the node itself, not a
 * replica). Keys in `exclude` (the backup lock) are left out.
 *
 * Fuzzy by design: each key is read at its own moment while writes go on.
 * A key deleted between SCAN and DUMP is skipped; a key SCAN returns twice
 * (Redis rehashing mid-scan) is recorded twice, and the later copy wins on
 * restore. SCAN returns every key that exists for the whole scan; a key
 * created during it may be missed — the log replay from the offsets read
 * before the scan covers it (see create-backup.ts).
 */
export async function scanShard(
  shard: Shard,
  keyPrefix: string,
  exclude: ReadonlySet<string>,
  onRecords: (records: KeyRecord[]) => Promise<void>,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await shard.client.scanBuffer(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', SCAN_COUNT);
    cursor = String(next);
    const wanted = keys.filter((k) => !exclude.has(k.toString('latin1')));
    if (wanted.length === 0) continue;
    const pipeline = shard.client.pipeline();
    for (const key of wanted) pipeline.dumpBuffer(key).pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    const readAt = Date.now();
    const records: KeyRecord[] = [];
    for (let i = 0; i < wanted.length; i++) {
      const [dumpErr, dump] = replies[2 * i] ?? [new Error('no reply')];
      const [ttlErr, ttl] = replies[2 * i + 1] ?? [new Error('no reply')];
      const err = dumpErr ?? ttlErr;
      if (err) throw new Error(`reading ${wanted[i]!.toString()} from ${shard.node}: ${err.message}`);
      // Deleted since SCAN saw it (DUMP nil, PTTL -2): nothing to keep.
      if (dump === null || (ttl as number) === -2) continue;
      records.push({ shard: shard.index, key: wanted[i]!, expireAt: (ttl as number) >= 0 ? readAt + (ttl as number) : 0, dump: dump as Buffer });
    }
    if (records.length > 0) await onRecords(records);
  } while (cursor !== '0');
}
