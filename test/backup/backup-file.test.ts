import { randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listBackups, pickBackup } from '../../src/backup/backup-catalog.js';
import { BackupDir } from '../../src/backup/backup-dir.js';
import { BackupVerificationError } from '../../src/backup/backup-errors.js';
import { HEADER_BYTES, TRAILER_BYTES } from '../../src/backup/backup-format.js';
import { loadBackupKey } from '../../src/backup/backup-key.js';
import { type BackupManifest, MANIFEST_FORMAT } from '../../src/backup/backup-manifest.js';
import { BackupWriter } from '../../src/backup/backup-writer.js';
import type { KeyRecord } from '../../src/backup/key-record.js';
import { pruneBackups } from '../../src/backup/retention.js';
import { verifyBackup } from '../../src/backup/verify-backup.js';
import { ConfigError } from '../../src/config/load-config.js';
import { BackupSandbox, chunkSpans, flipBit, swapChunks, truncate } from './backup-fixtures.js';

/**
 * The backup file format on its own (no Redis): what is written reads back
 * exactly, and every way of damaging a file — a flipped bit anywhere, a cut
 * at any length, chunks reordered or borrowed from another backup, another
 * key — is refused before a single record is handed out.
 */

/** 64 KiB per record, so 16 make exactly one 1 MiB chunk and chunks can be swapped. */
const RECORD_BYTES = 64 * 1024;
const KEY_BYTES = 24;
const DUMP_BYTES = RECORD_BYTES - (1 + 2 + 4 + KEY_BYTES + 8 + 4);

function records(n: number, shards = 1): KeyRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    shard: i % shards,
    key: Buffer.from(`t:v1:r:${String(i).padStart(KEY_BYTES - 7, '0')}`),
    expireAt: i % 3 === 0 ? 4_102_444_800_000 + i : 0,
    dump: randomBytes(DUMP_BYTES),
  }));
}

let box: BackupSandbox;
let dir: BackupDir;

beforeEach(() => {
  box = new BackupSandbox();
  dir = new BackupDir(box.dir);
});

afterEach(() => box.remove());

/** Writes a backup of `recs` as create-backup.ts does (partial file, manifest, rename); returns its id. */
async function write(recs: KeyRecord[], o: { shards?: number; trigger?: BackupManifest['trigger']; at?: number; key?: Buffer } = {}): Promise<string> {
  const at = o.at ?? Date.now();
  const id = BackupDir.newId(at);
  await dir.prepare();
  const w = await BackupWriter.create(dir.partialOf(id), o.key ?? box.key);
  await w.add(recs);
  const shards = w.shards(Array.from({ length: o.shards ?? 1 }, (_, i) => `127.0.0.1:${7000 + i}`));
  await w.finish({
    format: MANIFEST_FORMAT,
    id,
    trigger: o.trigger ?? 'manual',
    createdAt: new Date(at + 1).toISOString(),
    scanStartedAt: new Date(at).toISOString(),
    layout: 'v1',
    engine: 'redis',
    keyPrefix: 't:v1:',
    redisVersion: '7.0.15',
    shards,
    totals: { keys: shards.reduce((n, s) => n + s.keys, 0), bytes: shards.reduce((n, s) => n + s.bytes, 0) },
    log: null,
  });
  await dir.commit(id);
  return id;
}

/** Reads a backup whole; resolves with the records it handed out before failing or finishing. */
async function readAll(id: string, key: Buffer = box.key): Promise<{ seen: KeyRecord[]; error?: BackupVerificationError }> {
  const seen: KeyRecord[] = [];
  try {
    await verifyBackup(dir, key, id, async (r) => void seen.push(...r));
    return { seen };
  } catch (err) {
    if (!(err instanceof BackupVerificationError)) throw err;
    return { seen, error: err };
  }
}

describe('backup file: round trip', () => {
  it('reads back every record exactly, in order, with per-shard counts and checksums, from a file of several chunks', async () => {
    const recs = records(16 * 3 + 5, 3);
    const id = await write(recs, { shards: 3 });
    expect(chunkSpans(dir.fileOf(id))).toHaveLength(4 + 1); // 3 full chunks, 1 partial, the manifest
    const { seen, error } = await readAll(id);
    expect(error).toBeUndefined();
    expect(seen.map((r) => [r.shard, r.key.toString(), r.expireAt, r.dump.equals(recs[seen.indexOf(r)]!.dump)])).toEqual(
      recs.map((r) => [r.shard, r.key.toString(), r.expireAt, true]),
    );
    const result = await verifyBackup(dir, box.key, id);
    expect(result.manifest.shards.map((s) => s.keys)).toEqual([18, 18, 17]);
    expect(result.manifest.totals).toEqual({ keys: recs.length, bytes: recs.length * RECORD_BYTES });
    expect(result.chunks).toBe(4);
  });

  it('an empty store makes a valid backup of zero keys', async () => {
    const id = await write([]);
    const r = await verifyBackup(dir, box.key, id);
    expect(r.manifest.totals).toEqual({ keys: 0, bytes: 0 });
  });

  it('list reads each manifest without the data; ids sort by time; files are private to their owner', async () => {
    const a = await write(records(3), { at: Date.parse('2026-11-30T10:00:00Z') });
    const b = await write(records(2), { at: Date.parse('2026-12-01T10:00:00Z') });
    const entries = await listBackups(dir, box.key);
    expect(entries.map((e) => [e.id, e.manifest?.totals.keys])).toEqual([[a, 3], [b, 2]]);
    expect(statSync(dir.fileOf(a)).mode & 0o777).toBe(0o600);
    expect(readdirSync(box.dir).filter((n) => n.includes('partial'))).toEqual([]);
    expect(pickBackup(entries, {}).id).toBe(b);
    expect(pickBackup(entries, { to: Date.parse('2026-12-01T00:00:00Z') }).id).toBe(a);
    expect(() => pickBackup(entries, { to: Date.parse('2026-11-01T00:00:00Z') })).toThrow(/no backup was completed at or before 2026-11-01T00:00:00.000Z/);
    expect(() => pickBackup(entries, { id: b, to: Date.parse('2026-12-01T00:00:00Z') })).toThrow(/after --to/);
  });

  it('the plaintext never appears in the file', async () => {
    const recs = records(2);
    const id = await write(recs);
    const file = readFileSync(dir.fileOf(id));
    expect(file.includes(recs[0]!.key)).toBe(false);
    expect(file.includes(recs[1]!.dump.subarray(0, 64))).toBe(false);
    expect(file.includes(Buffer.from('keyPrefix'))).toBe(false);
  });
});

describe('backup file: damage is refused before any record is handed out', () => {
  it.each([
    ['the magic', () => 0, /not a hexfleet backup/],
    ['the format version', () => 8, /it is in backup format 17, this hexfleet reads format 1/],
    ['the salt', () => 20, /key does not match/],
    ['the key check', () => HEADER_BYTES - 1, /key does not match/],
    ['the first chunk length', (s: Span[]) => s[0]!.start + 3, /chunk 0 at byte 57 does not authenticate/],
    ['the first chunk length, high byte', (s: Span[]) => s[0]!.start, /chunk 0 at byte 57 claims 269484032 bytes, more than the file has left/],
    ['the first chunk ciphertext', (s: Span[]) => s[0]!.start + 100, /chunk 0 at byte 57 does not authenticate/],
    ['the middle chunk tag', (s: Span[]) => s[1]!.end - 1, /chunk 1 .*does not authenticate/],
    ['the last data chunk', (s: Span[]) => s[2]!.start + 9, /chunk 2 .*does not authenticate/],
    ['the manifest chunk', (s: Span[]) => s[3]!.start + 30, /chunk 3 \(the manifest\) .*does not authenticate/],
    ['the end marker offset', (_: Span[], size: number) => size - TRAILER_BYTES + 7, /chunk 3 at byte \d+ does not authenticate/],
    ['the end marker index', (_: Span[], size: number) => size - TRAILER_BYTES + 15, /end marker does not match its last chunk/],
    ['the end marker magic', (_: Span[], size: number) => size - 2, /truncated/],
  ] as const)('a flipped bit in %s', async (_what, where, message) => {
    const id = await write(records(16 * 3), { shards: 2 });
    const file = dir.fileOf(id);
    flipBit(file, where(chunkSpans(file), statSync(file).size));
    const { error } = await readAll(id);
    expect(error?.reason).toMatch(message);
    // A later chunk's damage shows only when that chunk is read, so a restore verifies the whole file first.
    expect(await readAllOrNothing(id)).toEqual({ written: 0 });
  });

  it('every truncation, at every chunk boundary and inside chunks', async () => {
    const id = await write(records(16 * 2 + 1));
    const file = dir.fileOf(id);
    const original = readFileSync(file);
    const cuts = new Set<number>([0, 1, HEADER_BYTES - 1, HEADER_BYTES, original.length - 1, original.length - TRAILER_BYTES, original.length - TRAILER_BYTES - 1]);
    for (const s of chunkSpans(file)) for (const d of [-1, 0, 1, 4, 5, 500]) cuts.add(Math.max(0, Math.min(original.length - 1, s.start + d)));
    for (const s of chunkSpans(file)) cuts.add(s.end);
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      writeFileSync(file, original.subarray(0, cut));
      const { error } = await readAll(id);
      expect(error, `cut at ${cut} of ${original.length}`).toBeInstanceOf(BackupVerificationError);
      expect(await readAllOrNothing(id), `cut at ${cut}`).toEqual({ written: 0 });
    }
  });

  it('a file cut after a data chunk with a forged end marker pointing at it', async () => {
    const id = await write(records(16 * 2));
    const file = dir.fileOf(id);
    const spans = chunkSpans(file);
    const original = readFileSync(file);
    const forged = Buffer.alloc(TRAILER_BYTES);
    forged.writeBigUInt64BE(BigInt(spans[1]!.start), 0);
    forged.writeBigUInt64BE(1n, 8);
    original.subarray(original.length - 8).copy(forged, 16);
    writeFileSync(file, Buffer.concat([original.subarray(0, spans[1]!.end), forged]));
    const { error } = await readAll(id);
    expect(error?.reason).toMatch(/chunk 1 \(the manifest\) at byte \d+ does not authenticate/);
  });

  it('two data chunks swapped', async () => {
    const id = await write(records(16 * 3));
    const file = dir.fileOf(id);
    const [a, b] = chunkSpans(file);
    swapChunks(file, a!, b!);
    const { seen, error } = await readAll(id);
    expect(error?.reason).toMatch(/chunk 0 at byte 57 does not authenticate: the file was altered, its chunks reordered, or it was cut short/);
    expect(seen).toEqual([]);
  });

  it('a chunk taken from another backup under the same key', async () => {
    const one = await write(records(16 * 2));
    const two = await write(records(16 * 2));
    const fileOne = dir.fileOf(one);
    const donor = readFileSync(dir.fileOf(two));
    const [, span] = chunkSpans(fileOne);
    const bytes = readFileSync(fileOne);
    donor.subarray(span!.start, span!.end).copy(bytes, span!.start);
    writeFileSync(fileOne, bytes);
    expect((await readAll(one)).error?.reason).toMatch(/chunk 1 .*does not authenticate/);
  });

  it('another key: refused at the header, with words that say so', async () => {
    const id = await write(records(2));
    const { seen, error } = await readAll(id, loadBackupKey(box.otherKeyFile()));
    expect(error?.reason).toBe('the key does not match: it was encrypted under another key than HEXFLEET_BACKUP_KEY_FILE holds (or its header was altered)');
    expect(seen).toEqual([]);
    expect((await listBackups(dir, loadBackupKey(box.otherKeyFile())))[0]).toMatchObject({ id, error: expect.stringMatching(/key does not match/) });
  });

  it('a damaged backup is listed as unreadable, and retention leaves it alone', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await write(records(1), { trigger: 'scheduled', at: Date.parse('2026-12-01T00:00:00Z') + i * 1000 }));
    const manual = await write(records(1), { trigger: 'manual', at: Date.parse('2026-11-01T00:00:00Z') });
    truncate(dir.fileOf(ids[0]!), 100);
    const pruned = await pruneBackups(dir, box.key, 1);
    expect(pruned).toEqual({ deleted: [ids[1]], kept: 1, unreadable: [ids[0]] });
    expect(await dir.ids()).toEqual([manual, ids[0], ids[2]].sort());
  });
});

type Span = { start: number; end: number };

/**
 * What restore does with a file: a verifying pass first, and records are
 * "written" only in a second pass once the first succeeded.
 */
async function readAllOrNothing(id: string): Promise<{ written: number }> {
  try {
    await verifyBackup(dir, box.key, id);
  } catch (err) {
    if (err instanceof BackupVerificationError) return { written: 0 };
    throw err;
  }
  let written = 0;
  await verifyBackup(dir, box.key, id, async (r) => void (written += r.length));
  return { written };
}

describe('backup key file', () => {
  it.each([
    ['64 hex characters and a newline', (k: Buffer) => k.toString('hex') + '\n'],
    ['upper-case hex', (k: Buffer) => k.toString('hex').toUpperCase()],
    ['32 raw bytes', (k: Buffer) => k],
  ])('accepts %s', (_what, content) => {
    const key = randomBytes(32);
    writeFileSync(box.keyFile, content(key));
    expect(loadBackupKey(box.keyFile).equals(key)).toBe(true);
  });

  it.each([
    ['31 raw bytes', randomBytes(31), /must hold 64 hex characters or exactly 32 raw bytes .* it holds 31 bytes/],
    ['63 hex characters', 'a'.repeat(63), /must hold 64 hex characters/],
    ['a passphrase', 'correct horse battery staple', /must hold 64 hex characters/],
  ])('refuses %s, naming the variable', (_what, content, message) => {
    writeFileSync(box.keyFile, content);
    expect(() => loadBackupKey(box.keyFile)).toThrow(ConfigError);
    expect(() => loadBackupKey(box.keyFile)).toThrow(message);
  });

  it('refuses a missing file, naming it', () => {
    expect(() => loadBackupKey(box.keyFile + '.nope')).toThrow(/HEXFLEET_BACKUP_KEY_FILE .*\.nope cannot be read/);
  });

  it('a copy of a backup under a new name is not a backup (ids are checked)', async () => {
    const id = await write(records(1));
    copyFileSync(dir.fileOf(id), `${box.dir}/copy.hfb`);
    expect(await dir.ids()).toEqual([id]);
  });
});
