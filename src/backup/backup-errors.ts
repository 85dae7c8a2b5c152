/**
 * Why a backup file cannot be trusted. Every check of the format raises it
 * (bad magic, another key, a chunk that does not authenticate, a truncated
 * file, a manifest whose checksums do not match the keys), always before a
 * restore has written anything: the restore verifies the whole file first.
 * `reason` is the part an operator reads after "backup <id> failed
 * verification: ".
 */
export class BackupVerificationError extends Error {
  constructor(
    readonly reason: string,
    /** The backup, once known (the format code does not know which file it reads). */
    readonly id?: string,
  ) {
    super(id ? `backup ${id} failed verification: ${reason}` : reason);
    this.name = 'BackupVerificationError';
  }
}

/**
 * A backup operation that cannot go ahead (no such backup, a store that
 * already holds keys, a backup of another engine or prefix). Nothing was
 * written when it is thrown, unless the message says otherwise.
 */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}
