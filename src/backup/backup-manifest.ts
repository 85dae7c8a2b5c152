import { createHash, type Hash } from 'node:crypto';
import type { PartitionOffsets } from '../eventlog/event-log.js';
import { BackupVerificationError } from './backup-errors.js';

/** The format name every manifest carries: a reader refuses another. */
export const MANIFEST_FORMAT = 'hexfleet-backup/1';

/** The engines a backup can be taken of (never `memory`: it dies with its process). */
export type BackupEngine = 'redis' | 'sentinel' | 'cluster';

/** One shard's part of a backup: a cluster primary, or the one Redis. */
export interface ShardManifest {
  shard: number;
  /** host:port it was read from. */
  node: string;
  keys: number;
  /** Bytes of its key records (key names, expiry and DUMP payloads). */
  bytes: number;
  /** SHA-256 of its key records, in file order, hex. */
  sha256: string;
}

/** Where the event log ended when the snapshot started: replay from here covers whatever the scan missed. */
export interface LogPosition {
  /** When the end offsets were read: before the scan started. */
  readAt: string;
  positions: { topic: string; offsets: PartitionOffsets };
  orders: { topic: string; offsets: PartitionOffsets };
}

/**
 * What a backup holds, written as its final (authenticated) chunk. `hexfleet
 * backup list --json` prints it as it is.
 */
export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  /** `manual` (hexfleet backup create) or `scheduled` (a gateway's HEXFLEET_BACKUP_INTERVAL_MS); retention deletes scheduled ones only. */
  trigger: 'manual' | 'scheduled';
  /**
   * When the scan finished: the snapshot holds nothing newer, so it can
   * serve a restore to any time from here on. `restore --to T` picks the
   * newest backup with createdAt ≤ T.
   */
  createdAt: string;
  /** When the scan started (after the log offsets were read). */
  scanStartedAt: string;
  /** The store layout version of the keys (the "v1" of "hf:v1:"). */
  layout: string;
  engine: BackupEngine;
  /** Every key in the backup starts with it, e.g. `hf:v1:`. */
  keyPrefix: string;
  /** redis_version of the source: DUMP payloads restore into this version or a newer one. */
  redisVersion: string;
  shards: ShardManifest[];
  totals: { keys: number; bytes: number };
  /** Null when no event log was configured: then a restore cannot replay past the snapshot. */
  log: LogPosition | null;
}

/** Per-shard key counts, bytes and running SHA-256, as the writer and the verifier each compute them. */
export class ShardTally {
  private readonly shards = new Map<number, { keys: number; bytes: number; hash: Hash }>();

  add(shard: number, encoded: Buffer): void {
    let s = this.shards.get(shard);
    if (!s) this.shards.set(shard, (s = { keys: 0, bytes: 0, hash: createHash('sha256') }));
    s.keys++;
    s.bytes += encoded.length;
    s.hash.update(encoded);
  }

  /** The tallies of `nodes` (shard i read from nodes[i]); a shard without keys has the hash of nothing. */
  finish(nodes: readonly string[]): ShardManifest[] {
    return nodes.map((node, shard) => {
      const s = this.shards.get(shard) ?? { keys: 0, bytes: 0, hash: createHash('sha256') };
      return { shard, node, keys: s.keys, bytes: s.bytes, sha256: s.hash.digest('hex') };
    });
  }

  /** The shards that have keys. */
  shardIds(): number[] {
    return [...this.shards.keys()];
  }
}

/** Compares what the verifier counted with what the manifest says; throws naming the first difference. */
export function checkShards(manifest: BackupManifest, tally: ShardTally): void {
  const unknown = tally.shardIds().find((id) => !manifest.shards.some((s) => s.shard === id));
  if (unknown !== undefined) throw new BackupVerificationError(`it holds keys of shard ${unknown}, which its manifest does not list`);
  const computed = tally.finish(manifest.shards.map((s) => s.node));
  for (const want of manifest.shards) {
    const got = computed[want.shard];
    if (!got || got.keys !== want.keys || got.bytes !== want.bytes || got.sha256 !== want.sha256) {
      throw new BackupVerificationError(
        `shard ${want.shard} (${want.node}) does not match its manifest: ${got?.keys ?? 0} keys, ${got?.bytes ?? 0} bytes, sha256 ${got?.sha256.slice(0, 12) ?? '-'}… ` +
          `against ${want.keys} keys, ${want.bytes} bytes, sha256 ${want.sha256.slice(0, 12)}…`,
      );
    }
  }
}

/** The manifest in a final chunk; throws `BackupVerificationError` when it is not one this hexfleet reads. */
export function parseManifest(bytes: Buffer): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(bytes.toString('utf8')) as Partial<BackupManifest>;
  } catch {
    throw new BackupVerificationError('its manifest is not JSON');
  }
  if (m.format !== MANIFEST_FORMAT) throw new BackupVerificationError(`its manifest is of format ${String(m.format)}, this hexfleet reads ${MANIFEST_FORMAT}`);
  const ok =
    typeof m.id === 'string' && typeof m.createdAt === 'string' && Number.isFinite(Date.parse(m.createdAt)) &&
    typeof m.keyPrefix === 'string' && typeof m.layout === 'string' && Array.isArray(m.shards) && typeof m.totals === 'object';
  if (!ok) throw new BackupVerificationError('its manifest lacks a field every backup has');
  return m as BackupManifest;
}
