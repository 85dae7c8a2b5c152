import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import type { BackupTarget } from './backup-target.js';
import type { KeyRecord } from './key-record.js';
import { shardsOf } from './snapshot.js';

/** Keys per SCAN page when looking for or deleting keys under a prefix. */
const SCAN_COUNT = 1000;
/**
 * RESTORE batches in flight at once: a chunk's worth each (~1 MiB), so the
 * file is decrypted while Redis applies the batch before it.
 */
const INFLIGHT = 4;

/** lua/restoreKeys.lua: RESTORE a batch of keys in one call on one Redis. */
const RESTORE_KEYS_LUA = readFileSync(new URL('./lua/restoreKeys.lua', import.meta.url), 'utf8');

/**
 * The first key under `keyPrefix` on any shard of the target (other than
 * those in `exclude`), or undefined when there is none: a restore goes only
 * into an empty prefix, unless forced.
 */
export async function firstKey(target: BackupTarget, keyPrefix: string, exclude: ReadonlySet<string>): Promise<string | undefined> {
  for (const shard of await shardsOf(target)) {
    let cursor = '0';
    do {
      const [next, keys] = await shard.client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', SCAN_COUNT);
      cursor = next;
      const found = keys.find((k) => !exclude.has(k));
      if (found !== undefined) return found;
    } while (cursor !== '0');
  }
  return undefined;
}

/** Deletes every key under `keyPrefix` on every shard (UNLINK, one key per command: on a cluster a page spans many slots); resolves with how many. */
export async function deleteUnder(target: BackupTarget, keyPrefix: string, exclude: ReadonlySet<string>): Promise<number> {
  let deleted = 0;
  for (const shard of await shardsOf(target)) {
    let cursor = '0';
    do {
      const [next, keys] = await shard.client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', SCAN_COUNT);
      cursor = next;
      const doomed = keys.filter((k) => !exclude.has(k));
      if (doomed.length === 0) continue;
      const pipeline = shard.client.pipeline();
      for (const k of doomed) pipeline.unlink(k);
      for (const [err, n] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        deleted += n as number;
      }
    } while (cursor !== '0');
  }
  return deleted;
}

/** What writing a backup's keys did. */
export interface WriteCounts {
  /** Keys written (RESTORE). */
  restored: number;
  /** Keys whose expiry passed since the backup: not written, as Redis would have dropped them by now. */
  expired: number;
}

/**
 * Writes key records back with RESTORE … ABSTTL REPLACE: each key as DUMP
 * read it, expiring at the same absolute time. REPLACE because a fuzzy
 * scan may hold one key twice (the later copy wins); the restore checked
 * the prefix was empty first. On a cluster each key goes through the
 * cluster client to the primary that serves its slot now (auto-pipelined
 * per node); on one Redis a batch is one script call (lua/restoreKeys.lua).
 */
export class KeyWriter {
  readonly counts: WriteCounts = { restored: 0, expired: 0 };
  private readonly inflight: Promise<void>[] = [];

  constructor(
    private readonly target: BackupTarget,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues a batch; waits while `INFLIGHT` batches are already being written. */
  async write(records: readonly KeyRecord[]): Promise<void> {
    const now = this.now();
    const live = records.filter((r) => r.expireAt === 0 || r.expireAt > now);
    this.counts.expired += records.length - live.length;
    if (live.length === 0) return;
    const sent = this.send(live);
    sent.catch(() => {}); // awaited below or by drain(); this keeps a failure meanwhile from counting as unhandled
    this.inflight.push(sent);
    if (this.inflight.length >= INFLIGHT) await this.inflight.shift();
  }

  /** Waits for every batch written so far. */
  async drain(): Promise<WriteCounts> {
    while (this.inflight.length > 0) await this.inflight.shift();
    return this.counts;
  }

  private async send(records: readonly KeyRecord[]): Promise<void> {
    const c = this.target.client;
    if (c instanceof Cluster) {
      await Promise.all(records.map((r) => c.restore(r.key, r.expireAt, r.dump, 'REPLACE', 'ABSTTL')));
    } else {
      await c.callBuffer('EVAL', RESTORE_KEYS_LUA, 0, ...records.flatMap((r) => [r.key, String(r.expireAt), r.dump]));
    }
    this.counts.restored += records.length;
  }
}
