import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_BYTES, LENGTH_BYTES, TAG_BYTES, TRAILER_BYTES } from '../../src/backup/backup-format.js';

/** A temp directory of the test's own with a backup key file in it; `remove()` deletes both. */
export class BackupSandbox {
  readonly root = mkdtempSync(join(tmpdir(), 'hexfleet-backup-test-'));
  readonly dir = join(this.root, 'backups');
  readonly keyFile = join(this.root, 'backup.key');
  readonly key = randomBytes(32);

  constructor() {
    writeFileSync(this.keyFile, this.key.toString('hex') + '\n', { mode: 0o600 });
  }

  /** Another key file (for "wrong key" cases). */
  otherKeyFile(): string {
    const path = join(this.root, `other-${randomBytes(4).toString('hex')}.key`);
    writeFileSync(path, randomBytes(32).toString('hex'), { mode: 0o600 });
    return path;
  }

  /** The environment that points hexfleet backup at this sandbox. */
  get env(): Record<string, string> {
    return { HEXFLEET_BACKUP_DIR: this.dir, HEXFLEET_BACKUP_KEY_FILE: this.keyFile };
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Where each chunk of a backup file starts and ends ([start, end) of its length field, ciphertext and tag), in file order. */
export function chunkSpans(file: string): { start: number; end: number }[] {
  const bytes = readFileSync(file);
  const spans: { start: number; end: number }[] = [];
  for (let at = HEADER_BYTES; at < bytes.length - TRAILER_BYTES; ) {
    const end = at + LENGTH_BYTES + bytes.readUInt32BE(at) + TAG_BYTES;
    spans.push({ start: at, end });
    at = end;
  }
  return spans;
}

/** Flips one bit of the byte at `offset`. */
export function flipBit(file: string, offset: number): void {
  const bytes = readFileSync(file);
  bytes[offset] = bytes[offset]! ^ 0x10;
  writeFileSync(file, bytes);
}

/** Keeps the first `length` bytes. */
export function truncate(file: string, length: number): void {
  writeFileSync(file, readFileSync(file).subarray(0, length));
}

/** Swaps two data chunks of the same length in place (GCM hides nothing about lengths: equal-sized chunks are the hard case). */
export function swapChunks(file: string, a: { start: number; end: number }, b: { start: number; end: number }): void {
  const bytes = readFileSync(file);
  const first = Buffer.from(bytes.subarray(a.start, a.end));
  const second = Buffer.from(bytes.subarray(b.start, b.end));
  if (first.length !== second.length) throw new Error('swapChunks needs chunks of one size');
  second.copy(bytes, a.start);
  first.copy(bytes, b.start);
  writeFileSync(file, bytes);
}
