import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load-config.js';

/** AES-256 keys are 32 bytes. */
export const BACKUP_KEY_BYTES = 32;

/**
 * The backup key from `HEXFLEET_BACKUP_KEY_FILE`: 64 hex characters (a
 * trailing newline or spaces allowed, as `openssl rand -hex 32 > key` writes
 * it) or exactly 32 raw bytes. Anything else is a `ConfigError` naming the
 * variable: a key that is silently padded or cut would encrypt backups that
 * the real key cannot open.
 */
export function loadBackupKey(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`HEXFLEET_BACKUP_KEY_FILE ${path} cannot be read: ${(err as Error).message}`);
  }
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (raw.length === BACKUP_KEY_BYTES) return raw;
  throw new ConfigError(
    `HEXFLEET_BACKUP_KEY_FILE ${path} must hold 64 hex characters or exactly ${BACKUP_KEY_BYTES} raw bytes (e.g. openssl rand -hex 32 > ${path}); it holds ${raw.length} bytes`,
  );
}
