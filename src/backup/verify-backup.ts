import type { BackupDir } from './backup-dir.js';
import { BackupError } from './backup-errors.js';
import { BackupReader, type ReadResult } from './backup-reader.js';
import type { KeyRecord } from './key-record.js';

/**
 * Reads a whole backup and checks everything: header and key, every
 * chunk's authentication in order, the final chunk and end marker, and the
 * per-shard key counts and SHA-256 checksums against the manifest. Throws
 * `BackupVerificationError` (the reason) on the first problem, or
 * `BackupError` when there is no such backup. `onRecords` sees each chunk's
 * records as it authenticates (see BackupReader.read).
 */
export async function verifyBackup(dir: BackupDir, key: Buffer, id: string, onRecords?: (records: KeyRecord[]) => Promise<void>): Promise<ReadResult> {
  if (!(await dir.ids()).includes(id)) throw new BackupError(`there is no backup ${id} in HEXFLEET_BACKUP_DIR (hexfleet backup list shows them)`);
  const reader = await BackupReader.open(dir.fileOf(id), key);
  try {
    return await reader.read(onRecords);
  } finally {
    await reader.close();
  }
}
