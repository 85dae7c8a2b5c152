import type { EventLog, PartitionOffsets, ReadFrom } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import { replayStores, type ReplayStores, type StoreReplayProgress, type StoreReplaySummary } from '../replay/store-replay.js';
import { pickBackup, listBackups } from './backup-catalog.js';
import type { BackupDir } from './backup-dir.js';
import { BackupError, BackupVerificationError } from './backup-errors.js';
import type { BackupEngine, BackupManifest } from './backup-manifest.js';
import { STORE_LAYOUT, type BackupTarget } from './backup-target.js';
import { backupLockKey, versionOf } from './create-backup.js';
import { deleteUnder, firstKey, KeyWriter, type WriteCounts } from './key-writer.js';
import { shardsOf } from './snapshot.js';
import { verifyBackup } from './verify-backup.js';

/** What replaying the log after a restore needs; opened only when it runs. */
export interface RestoreReplay {
  /** The configured topics (checked against the backup's before anything is written). */
  topics: Topics;
  open(): Promise<{ log: EventLog; stores: ReplayStores }>;
  /** HEXFLEET_ORDER_RETENTION_MS (see replayStores). */
  orderRetentionMs?: number;
}

/** Which backup to restore, into what, and how far to replay. */
export interface RestoreOptions {
  dir: BackupDir;
  key: Buffer;
  target: BackupTarget & { engine: BackupEngine };
  /** Restore this backup (else the newest, at or before `to` when given). */
  id?: string;
  /** Restore the state at this time: the newest backup completed by then, then the log replayed up to it. */
  to?: number;
  /** Delete every key under the prefix first, instead of refusing a prefix that holds keys. */
  force: boolean;
  /** Absent: no event log configured (a restore --to then stops at the snapshot and says so). */
  replay?: RestoreReplay;
  onProgress?: (p: RestoreProgress) => void;
  progressIntervalMs?: number;
}

/** Where a restore is: verifying, writing keys, or replaying the log. */
export type RestoreProgress =
  | { phase: 'verify' | 'restore'; elapsedMs: number; keys: number }
  | { phase: 'replay'; elapsedMs: number; replay: StoreReplayProgress };

/** What a restore did; `backup restore --json` prints it as it is. */
export interface RestoreSummary {
  id: string;
  manifest: BackupManifest;
  /** Keys deleted first (--force). */
  deleted: number;
  keys: WriteCounts;
  /**
   * The log replay after the keys: its summary (up to --to, or without it up
   * to the backup's createdAt), the reason it was skipped (--to without a
   * log), or null (no --to, no log: the store holds the snapshot as scanned).
   */
  replay: StoreReplaySummary | { skipped: string } | null;
  verifyMs: number;
  restoreMs: number;
  elapsedMs: number;
}

/**
 * Restores a backup into the configured store, all or nothing as far as
 * the file goes:
 *
 *   pick the backup ─▶ check it fits (layout, prefix, engine, Redis version, topics)
 *     ─▶ pass 1: read and verify the WHOLE file (nothing written yet)
 *     ─▶ the prefix must be empty (--force: delete what is under it)
 *     ─▶ pass 2: read it again, RESTORE each key as its chunk authenticates
 *     ─▶ replay the log from the manifest's offsets up to --to (without it: up to
 *        the end of the scan, so the store is the exact state at createdAt)
 *
 * A tampered, truncated or foreign-key file fails pass 1 and nothing is
 * written. Pass 2 re-authenticates every chunk, so a file changed between
 * the passes is caught too — but then part of it is already written, and
 * the error says so (restore again with --force).
 *
 * Gateways must be stopped while it runs: a gateway writing into the prefix
 * meanwhile mixes its writes into the restored state.
 */
export async function restoreBackup(o: RestoreOptions): Promise<RestoreSummary> {
  const started = Date.now();
  const entry = pickBackup(await listBackups(o.dir, o.key), { id: o.id, to: o.to });
  const id = entry.id;
  if (!entry.manifest) throw new BackupVerificationError(entry.error ?? 'its manifest cannot be read', id);
  const manifest = entry.manifest;
  await checkFits(manifest, o);

  const tick = progressTicker(o, started);
  try {
    await verifyBackup(o.dir, o.key, id, async (records) => tick({ phase: 'verify', keys: records.length }));
  } catch (err) {
    if (err instanceof BackupVerificationError) throw new BackupVerificationError(err.reason, id);
    throw err;
  }
  const verifyMs = Date.now() - started;

  const exclude = new Set([backupLockKey(o.target.keyPrefix)]);
  let deleted = 0;
  const present = await firstKey(o.target, o.target.keyPrefix, exclude);
  if (present !== undefined) {
    if (!o.force) {
      throw new BackupError(
        `the store already holds keys under ${o.target.keyPrefix} (e.g. ${present}); a restore goes into an empty prefix. ` +
          'Stop the gateways, and add --force to delete every key under the prefix first',
      );
    }
    deleted = await deleteUnder(o.target, o.target.keyPrefix, exclude);
  }

  const restoreStarted = Date.now();
  const writer = new KeyWriter(o.target);
  try {
    await verifyBackup(o.dir, o.key, id, async (records) => {
      await writer.write(records);
      tick({ phase: 'restore', keys: records.length });
    });
  } catch (err) {
    await writer.drain().catch(() => {});
    if (err instanceof BackupVerificationError) {
      throw new BackupError(
        `backup ${id} changed after it verified (${err.reason}): the store now holds part of it. Restore it again with --force once the file is intact`,
      );
    }
    throw err;
  }
  const keys = await writer.drain();
  const restoreMs = Date.now() - restoreStarted;

  let replay: RestoreSummary['replay'] = null;
  const to = replayTo(manifest, o);
  if (to !== undefined && o.replay) {
    const { log, stores } = await o.replay.open();
    replay = await replayStores(log, o.replay.topics, stores, {
      window: { positions: readFrom(manifest.log?.positions.offsets), orders: readFrom(manifest.log?.orders.offsets), to },
      dryRun: false,
      orderRetentionMs: o.replay.orderRetentionMs,
      onProgress: (p) => o.onProgress?.({ phase: 'replay', elapsedMs: Date.now() - started, replay: p }),
      progressIntervalMs: o.progressIntervalMs,
    });
  } else if (o.to !== undefined) {
    replay = { skipped: 'no event log is configured (HEXFLEET_KAFKA_BROKERS): the store holds the snapshot, not the state at --to' };
  }
  return { id, manifest, deleted, keys, replay, verifyMs, restoreMs, elapsedMs: Date.now() - started };
}

/**
 * How far to replay after the keys: to --to; without it, to the end of the
 * scan (createdAt) when the backup has offsets, which turns the fuzzy
 * snapshot into the exact state at createdAt; nothing without a log.
 */
function replayTo(m: BackupManifest, o: RestoreOptions): number | undefined {
  if (!o.replay) return undefined;
  if (o.to !== undefined) return o.to;
  return m.log ? Date.parse(m.createdAt) : undefined;
}

/**
 * The manifest's offsets as where a replay starts; a backup without them
 * (taken with no log configured) replays the whole log, which is safe —
 * every write is idempotent — only slower.
 */
function readFrom(offsets: PartitionOffsets | undefined): ReadFrom {
  return offsets && Object.keys(offsets).length > 0 ? { kind: 'offsets', offsets } : { kind: 'earliest' };
}

/** Refuses, before anything is read or written, a backup that cannot go into this store. */
async function checkFits(m: BackupManifest, o: RestoreOptions): Promise<void> {
  if (m.layout !== STORE_LAYOUT) throw new BackupError(`backup ${m.id} holds store layout ${m.layout}; this hexfleet writes layout ${STORE_LAYOUT}`);
  if (m.keyPrefix !== o.target.keyPrefix) {
    throw new BackupError(`backup ${m.id} holds keys under ${m.keyPrefix}, the configured prefix is ${o.target.keyPrefix} (set HEXFLEET_REDIS_PREFIX to ${m.keyPrefix.replace(/:v\d+:$/, '')})`);
  }
  if ((m.engine === 'cluster') !== (o.target.engine === 'cluster')) {
    throw new BackupError(`backup ${m.id} was taken of the ${m.engine} engine, whose keys are laid out for ${m.engine === 'cluster' ? 'a cluster' : 'one Redis'}; the configured engine is ${o.target.engine}`);
  }
  const shard = (await shardsOf(o.target))[0];
  const version = shard ? await versionOf(shard.client) : 'unknown';
  if (olderVersion(version, m.redisVersion)) {
    throw new BackupError(`backup ${m.id} was taken of Redis ${m.redisVersion}; Redis ${version} cannot RESTORE its DUMP payloads (use ${m.redisVersion} or newer)`);
  }
  const topics = o.replay?.topics;
  if (topics && replayTo(m, o) !== undefined && m.log && (m.log.positions.topic !== topics.positions || m.log.orders.topic !== topics.orders)) {
    throw new BackupError(
      `backup ${m.id} holds offsets of topics ${m.log.positions.topic} and ${m.log.orders.topic}; HEXFLEET_KAFKA_TOPIC_PREFIX names ${topics.positions} and ${topics.orders}`,
    );
  }
}

/** Whether Redis version `a` is older than `b` (major.minor.patch; unknown compares as not older). */
function olderVersion(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  if ([...pa, ...pb].some((n) => !Number.isFinite(n))) return false;
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) < (pb[i] ?? 0);
  }
  return false;
}

/** Counts keys per phase and calls onProgress at most every progressIntervalMs. */
function progressTicker(o: RestoreOptions, started: number): (p: { phase: 'verify' | 'restore'; keys: number }) => void {
  const counts = { verify: 0, restore: 0 };
  let last = performance.now();
  return ({ phase, keys }) => {
    counts[phase] += keys;
    const now = performance.now();
    if (!o.onProgress || now - last < (o.progressIntervalMs ?? 1000)) return;
    last = now;
    o.onProgress({ phase, elapsedMs: Date.now() - started, keys: counts[phase] });
  };
}
