import { BackupDir } from './backup-dir.js';
import { BackupError, BackupVerificationError } from './backup-errors.js';
import type { BackupManifest } from './backup-manifest.js';
import { BackupReader } from './backup-reader.js';

/** One backup of the directory as `list` shows it: its manifest, or why it could not be read. */
export interface CatalogEntry {
  id: string;
  fileBytes: number;
  manifest?: BackupManifest;
  /** Set when the header, end marker or manifest did not authenticate. */
  error?: string;
}

/**
 * Every backup in the directory, oldest first, each with its authenticated
 * manifest (header, end marker and final chunk are checked; the data
 * chunks are not read: `verify` does that).
 */
export async function listBackups(dir: BackupDir, key: Buffer): Promise<CatalogEntry[]> {
  const out: CatalogEntry[] = [];
  for (const id of await dir.ids()) {
    const fileBytes = await dir.sizeOf(id).catch(() => 0);
    try {
      const reader = await BackupReader.open(dir.fileOf(id), key);
      try {
        out.push({ id, fileBytes, manifest: await reader.manifest() });
      } finally {
        await reader.close();
      }
    } catch (err) {
      if (!(err instanceof BackupVerificationError)) throw err;
      out.push({ id, fileBytes, error: err.reason });
    }
  }
  return out;
}

/** When a backup's snapshot is complete: its manifest's createdAt, or (unreadable) the start its id carries. */
function timeOf(e: CatalogEntry): number {
  return e.manifest ? Date.parse(e.manifest.createdAt) : BackupDir.timeOf(e.id);
}

/**
 * The backup a restore uses: `id` when given (taken at or before `to`, when
 * that is given too), else the newest taken at or before `to`, else the
 * newest of all. The newest candidate is never skipped for an older one
 * because it is unreadable: that is a verification failure for the
 * operator to see (they can name an older one with --id).
 */
export function pickBackup(entries: readonly CatalogEntry[], o: { id?: string; to?: number }): CatalogEntry {
  if (o.id !== undefined) {
    const e = entries.find((x) => x.id === o.id);
    if (!e) throw new BackupError(`there is no backup ${o.id} in HEXFLEET_BACKUP_DIR (hexfleet backup list shows them)`);
    if (o.to !== undefined && e.manifest && Date.parse(e.manifest.createdAt) > o.to) {
      throw new BackupError(`backup ${o.id} was completed at ${e.manifest.createdAt}, after --to ${new Date(o.to).toISOString()}: it holds state newer than that time`);
    }
    return e;
  }
  const candidates = entries.filter((e) => o.to === undefined || timeOf(e) <= o.to).sort((a, b) => timeOf(a) - timeOf(b));
  const newest = candidates.at(-1);
  if (!newest) {
    if (entries.length === 0) throw new BackupError('there are no backups in HEXFLEET_BACKUP_DIR');
    const oldest = [...entries].sort((a, b) => timeOf(a) - timeOf(b))[0]!;
    throw new BackupError(`no backup was completed at or before ${new Date(o.to!).toISOString()} (the oldest, ${oldest.id}, was completed at ${new Date(timeOf(oldest)).toISOString()})`);
  }
  return newest;
}
