import { listBackups } from './backup-catalog.js';
import type { BackupDir } from './backup-dir.js';

/** What pruning did. */
export interface PruneResult {
  /** Ids deleted, oldest first. */
  deleted: string[];
  /** Scheduled backups kept. */
  kept: number;
  /** Backups whose manifest could not be read: never deleted by retention (an operator decides). */
  unreadable: string[];
}

/**
 * `HEXFLEET_BACKUP_KEEP`: keeps the newest `keep` scheduled backups and
 * deletes older scheduled ones. The caller runs it only after its new
 * backup verified, so a failing backup never costs a good old one. Manual
 * backups (`hexfleet backup create`) are never deleted here: someone took
 * them on purpose (before a migration, say) and deletes them by hand.
 */
export async function pruneBackups(dir: BackupDir, key: Buffer, keep: number): Promise<PruneResult> {
  const entries = await listBackups(dir, key);
  const scheduled = entries
    .filter((e) => e.manifest?.trigger === 'scheduled')
    .sort((a, b) => Date.parse(a.manifest!.createdAt) - Date.parse(b.manifest!.createdAt));
  const doomed = scheduled.slice(0, Math.max(0, scheduled.length - keep));
  for (const e of doomed) await dir.remove(e.id);
  return { deleted: doomed.map((e) => e.id), kept: scheduled.length - doomed.length, unreadable: entries.filter((e) => e.error).map((e) => e.id) };
}
