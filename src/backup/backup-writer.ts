import { open, rm, type FileHandle } from 'node:fs/promises';
import { type BackupManifest, type ShardManifest, ShardTally } from './backup-manifest.js';
import { CHUNK_TARGET_BYTES, type FileKeys, newFileKeys, sealChunk, trailer } from './backup-format.js';
import { encodeKeyRecord, type KeyRecord } from './key-record.js';

/**
 * Writes one backup file (see backup-format.ts) as the snapshot streams in:
 * key records are encrypted a chunk (~1 MiB) at a time, so the writer never
 * holds more than one chunk; the manifest goes last, in the final chunk.
 * The file is created new (never overwrites), readable by its owner only,
 * and fsynced by `finish`; the caller renames it into place.
 */
export class BackupWriter {
  private readonly keys: FileKeys;
  private readonly tally = new ShardTally();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  private offset = 0;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    masterKey: Buffer,
  ) {
    this.keys = newFileKeys(masterKey);
  }

  static async create(path: string, masterKey: Buffer): Promise<BackupWriter> {
    const w = new BackupWriter(await open(path, 'wx', 0o600), path, masterKey);
    await w.write(w.keys.header);
    return w;
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.offset;
  }

  /** Adds key records (of any shards, in the order they should be restored). */
  async add(records: readonly KeyRecord[]): Promise<void> {
    for (const r of records) {
      const encoded = encodeKeyRecord(r);
      this.tally.add(r.shard, encoded);
      this.pending.push(encoded);
      this.pendingBytes += encoded.length;
      if (this.pendingBytes >= CHUNK_TARGET_BYTES) await this.flush();
    }
  }

  /** The per-shard counts and checksums of everything added, shard i read from nodes[i]. Call once, after the last `add`. */
  shards(nodes: readonly string[]): ShardManifest[] {
    return this.tally.finish(nodes);
  }

  /** Writes the last data chunk, the manifest and the trailer, fsyncs and closes; resolves with the file's size. */
  async finish(manifest: BackupManifest): Promise<number> {
    await this.flush();
    const finalOffset = this.offset;
    await this.write(sealChunk(this.keys, this.index, true, Buffer.from(JSON.stringify(manifest), 'utf8')));
    await this.write(trailer(finalOffset, this.index));
    await this.fh.sync();
    await this.fh.close();
    return this.offset;
  }

  /** Closes and deletes the unfinished file. */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await rm(this.path, { force: true });
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const plaintext = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.write(sealChunk(this.keys, this.index++, false, plaintext));
  }

  private async write(bytes: Buffer): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, this.offset + done);
      done += bytesWritten;
    }
    this.offset += bytes.length;
  }
}
