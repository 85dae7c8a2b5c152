import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type Redis } from 'ioredis';
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

/** Every key under a prefix as DUMP serializes it, with its absolute expiry (PEXPIRETIME; -1 none), on every primary. */
export async function keyState(client: Redis | Cluster, keyPrefix: string): Promise<Map<string, { dump: string; expireAt: number }>> {
  const out = new Map<string, { dump: string; expireAt: number }>();
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const [dump, expireAt] = await Promise.all([node.dumpBuffer(key), node.call('PEXPIRETIME', key) as Promise<number>]);
        if (dump) out.set(key, { dump: dump.toString('base64'), expireAt });
      }
    } while (cursor !== '0');
  }
  return out;
}

/** The keys of a state, sorted (for short failure messages). */
export function keysOf(state: Map<string, unknown>): string[] {
  return [...state.keys()].sort();
}
