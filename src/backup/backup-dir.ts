import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** `20261201T101500123Z-3fa9`: the start time to the millisecond (UTC) and 2 random bytes; sorts by time. */
const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{4}$/;
const SUFFIX = '.hfb';
const PARTIAL = '.partial';

/**
 * `HEXFLEET_BACKUP_DIR`: one file per backup, `<id>.hfb`. A backup is
 * written under a hidden temporary name (`.<id>.hfb.partial`) and renamed
 * into place only once complete and fsynced, so a crash mid-backup never
 * leaves a file that `list` would show; the directory is fsynced after the
 * rename so the new name survives a power cut too.
 */
export class BackupDir {
  constructor(readonly path: string) {}

  /** A new id for a backup starting at `at`. */
  static newId(at: number): string {
    const iso = new Date(at).toISOString(); // 2026-12-01T10:15:00.123Z
    return `${iso.replace(/[-:.]/g, '').replace('Z', '')}Z-${randomBytes(2).toString('hex')}`;
  }

  static isId(id: string): boolean {
    return ID.test(id);
  }

  /** The start time an id carries (ms since the epoch). */
  static timeOf(id: string): number {
    const m = ID.exec(id);
    if (!m) return NaN;
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7]));
  }

  fileOf(id: string): string {
    return join(this.path, id + SUFFIX);
  }

  partialOf(id: string): string {
    return join(this.path, `.${id}${SUFFIX}${PARTIAL}`);
  }

  /** Creates the directory (owner only) when it does not exist. */
  async prepare(): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: 0o700 });
  }

  /** Moves a finished partial file into place. */
  async commit(id: string): Promise<void> {
    await rename(this.partialOf(id), this.fileOf(id));
    const dir = await open(this.path, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** The ids of the backups in the directory, oldest first (partial files are not backups). */
  async ids(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith(SUFFIX) && ID.test(n.slice(0, -SUFFIX.length)))
      .map((n) => n.slice(0, -SUFFIX.length))
      .sort();
  }

  async sizeOf(id: string): Promise<number> {
    return (await stat(this.fileOf(id))).size;
  }

  async remove(id: string): Promise<void> {
    await rm(this.fileOf(id), { force: true });
  }
}
