import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import { BackupDir } from './backup-dir.js';
import { type BackupEngine, type BackupManifest, type LogPosition, MANIFEST_FORMAT } from './backup-manifest.js';
import { STORE_LAYOUT, type BackupTarget } from './backup-target.js';
import { BackupWriter } from './backup-writer.js';
import { scanShard, shardsOf } from './snapshot.js';

/** The event log a backup records its position in. */
export interface BackupLog {
  log: EventLog;
  topics: Topics;
  /**
   * How long to wait between reading the log's end offsets and starting
   * the scan: at least the Redis command timeout of the gateways (see
   * `createBackup`).
   */
  settleMs: number;
}

/** What `createBackup` backs up, where to, and with which key. */
export interface CreateBackupOptions {
  target: BackupTarget & { engine: BackupEngine };
  dir: BackupDir;
  key: Buffer;
  /** Absent: no event log configured; the manifest says so and `restore --to` cannot replay past the snapshot. */
  log?: BackupLog;
  trigger: BackupManifest['trigger'];
  /** Called at most every `progressIntervalMs` during the scan. */
  onProgress?: (p: BackupProgress) => void;
  progressIntervalMs?: number;
  /** Abandons the backup (its partial file is deleted): a gateway shutting down. */
  signal?: AbortSignal;
}

/** Where a backup's scan is, as its progress line shows it. */
export interface BackupProgress {
  elapsedMs: number;
  shard: number;
  shards: number;
  keys: number;
  bytes: number;
}

/** A finished backup: its manifest, where the file is, how big and how long it took. */
export interface CreatedBackup {
  manifest: BackupManifest;
  path: string;
  fileBytes: number;
  elapsedMs: number;
}

/** The backup lock lives under the prefix; a backup never holds it (a restore would bring back a stale lock). */
export function backupLockKey(keyPrefix: string): string {
  return `${keyPrefix}backup:lock`;
}

/**
 * Takes a backup: a fuzzy snapshot of every key under the prefix, and the
 * event log's end offsets read BEFORE the scan starts.
 *
 *   1. read the end offsets of the positions and orders topics     (log configured)
 *   2. wait settleMs                                                (log configured)
 *   3. SCAN each shard: DUMP + PTTL per key, streamed into the encrypted file
 *   4. manifest (counts, checksums, offsets, createdAt = end of the scan), fsync, rename
 *
 * Why replaying the log from those offsets up to any time T ≥ createdAt
 * gives exactly the state at T: every key in the file is the key as it was
 * at some moment between the offsets and createdAt. A ping or order
 * transition logged before the offsets was applied to Redis before the scan
 * (step 2: the gateway writes Redis and the log at the same time, and a
 * Redis write still unanswered after the command timeout was not acked,
 * so its resend is logged again after the offsets); anything applied later
 * is in the log after them. Replay goes through the stores' idempotent
 * write paths — pings are seq-guarded (an older one is a no-op), orders
 * version-guarded — so re-applying what the snapshot already holds changes
 * nothing, and applying what it missed brings each key to T.
 */
export async function createBackup(o: CreateBackupOptions): Promise<CreatedBackup> {
  const started = Date.now();
  const id = BackupDir.newId(started);
  await o.dir.prepare();

  let log: LogPosition | null = null;
  if (o.log) {
    const readAt = new Date().toISOString();
    const [positions, orders] = await Promise.all([o.log.log.endOffsets(o.log.topics.positions), o.log.log.endOffsets(o.log.topics.orders)]);
    log = { readAt, positions: { topic: o.log.topics.positions, offsets: positions }, orders: { topic: o.log.topics.orders, offsets: orders } };
    await sleep(o.log.settleMs, undefined, o.signal ? { signal: o.signal } : {});
  }

  const shards = await shardsOf(o.target);
  if (shards.length === 0) throw new Error('no Redis primary to back up: the cluster client knows no nodes (is it connected?)');
  const redisVersion = await versionOf(shards[0]!.client);
  const exclude = new Set([backupLockKey(o.target.keyPrefix)]);
  const writer = await BackupWriter.create(o.dir.partialOf(id), o.key);
  try {
    const scanStartedAt = new Date().toISOString();
    const progress = { keys: 0, bytes: 0, shard: 0, last: performance.now() };
    for (const shard of shards) {
      progress.shard = shard.index;
      await scanShard(shard, o.target.keyPrefix, exclude, async (records) => {
        o.signal?.throwIfAborted();
        await writer.add(records);
        progress.keys += records.length;
        progress.bytes = writer.bytes;
        const now = performance.now();
        if (o.onProgress && now - progress.last >= (o.progressIntervalMs ?? 1000)) {
          progress.last = now;
          o.onProgress({ elapsedMs: Date.now() - started, shard: shard.index, shards: shards.length, keys: progress.keys, bytes: progress.bytes });
        }
      });
    }
    const createdAt = new Date().toISOString();
    const shardManifests = writer.shards(shards.map((s) => s.node));
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      id,
      trigger: o.trigger,
      createdAt,
      scanStartedAt,
      layout: STORE_LAYOUT,
      engine: o.target.engine,
      keyPrefix: o.target.keyPrefix,
      redisVersion,
      shards: shardManifests,
      totals: { keys: shardManifests.reduce((n, s) => n + s.keys, 0), bytes: shardManifests.reduce((n, s) => n + s.bytes, 0) },
      log,
    };
    const fileBytes = await writer.finish(manifest);
    await o.dir.commit(id);
    return { manifest, path: o.dir.fileOf(id), fileBytes, elapsedMs: Date.now() - started };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** redis_version from INFO server. */
export async function versionOf(client: { info(section: string): Promise<string> }): Promise<string> {
  return /redis_version:([^\r\n]+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
}
