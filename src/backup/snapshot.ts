import { readFileSync } from 'node:fs';
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

/** lua/dumpKeys.lua: DUMP + PTTL of a page of keys in one call (copied next to this module by the build). */
const DUMP_KEYS_LUA = readFileSync(new URL('./lua/dumpKeys.lua', import.meta.url), 'utf8');

/**
 * The shards of a target: the one Redis, or every primary of a cluster
 * (ordered by address, so the same cluster numbers its shards the same way
 * in every backup). A Redis reached through Sentinels is named by the
 * address it serves on (CLIENT INFO's laddr), not by its connection
 * options, which name no node.
 */
export async function shardsOf(target: BackupTarget): Promise<Shard[]> {
  if (!(target.client instanceof Cluster)) return [{ index: 0, client: target.client, node: await addressOf(target.client) }];
  return target.client
    .nodes('master')
    .map((client) => ({ client, node: `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}` }))
    .sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }))
    .map((s, index) => ({ ...s, index }));
}

async function addressOf(client: Redis): Promise<string> {
  const info = String(await client.call('CLIENT', 'INFO').catch(() => ''));
  return /\bladdr=(\S+)/.exec(info)?.[1] ?? `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
}

/**
 * Streams every key of one shard under `keyPrefix`, a SCAN page at a time:
 * DUMP and PTTL of the page's keys in one script call (lua/dumpKeys.lua:
 * Redis 7 or newer), handed to `onRecords` in page order, with at most one
 * page being dumped while the one before it is handed over (memory stays
 * at two pages). Reads the primary (the node itself, not a
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
  // Two pages in flight: Redis dumps page n while this process encrypts and writes page n - 1.
  let previous: Promise<void> = Promise.resolve();
  let cursor = '0';
  try {
    do {
      const [next, keys] = await shard.client.scanBuffer(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', SCAN_COUNT);
      cursor = String(next);
      const wanted = keys.filter((k) => !exclude.has(k.toString('latin1')));
      if (wanted.length === 0) continue;
      const dumped = dumpPage(shard, wanted);
      dumped.catch(() => {}); // awaited below, after the page before it
      await previous;
      previous = dumped.then((records) => (records.length > 0 ? onRecords(records) : undefined));
      previous.catch(() => {}); // awaited by the next page or after the loop
    } while (cursor !== '0');
  } catch (err) {
    await previous.catch(() => {}); // never leave a page being written behind a failure
    throw err;
  }
  await previous;
}

/** DUMP + PTTL of one page of keys, in one call. */
async function dumpPage(shard: Shard, keys: Buffer[]): Promise<KeyRecord[]> {
  let reply: (Buffer | number | null)[];
  try {
    reply = (await shard.client.callBuffer('EVAL', DUMP_KEYS_LUA, 0, ...keys)) as (Buffer | number | null)[];
  } catch (err) {
    throw new Error(`reading keys from ${shard.node}: ${(err as Error).message}`);
  }
  const readAt = Date.now();
  const records: KeyRecord[] = [];
  for (let i = 0; i < keys.length; i++) {
    const dump = reply[2 * i] ?? null;
    const ttl = Number(reply[2 * i + 1]);
    // Deleted since SCAN saw it (DUMP nil, PTTL -2): nothing to keep.
    if (dump === null || ttl === -2) continue;
    records.push({ shard: shard.index, key: keys[i]!, expireAt: ttl >= 0 ? readAt + ttl : 0, dump: dump as Buffer });
  }
  return records;
}
