import { open, type FileHandle } from 'node:fs/promises';
import { BackupVerificationError } from './backup-errors.js';
import { type BackupManifest, checkShards, parseManifest, ShardTally } from './backup-manifest.js';
import {
  type FileKeys, HEADER_BYTES, LENGTH_BYTES, MAX_CHUNK_BYTES, openChunk, openFileKeys, parseTrailer, TAG_BYTES, TRAILER_BYTES,
} from './backup-format.js';
import { decodeKeyRecords, type KeyRecord } from './key-record.js';

/** What a full read of a backup found: the manifest, and the file's size. */
export interface ReadResult {
  manifest: BackupManifest;
  fileBytes: number;
  /** Data chunks read (the manifest's chunk not counted). */
  chunks: number;
}

/** Sequential reads of this size: a few large reads instead of two small ones per chunk. */
const READ_BLOCK_BYTES = 4 << 20;

/**
 * Reads backup files (see backup-format.ts). `manifest` authenticates and
 * returns just the manifest (header, trailer and final chunk: what `list`
 * needs); `read` goes through the whole file in order, authenticating every
 * chunk, and only returns once the final chunk, the trailer and the
 * per-shard checksums all agree. Records are handed to `onRecords` as each
 * chunk authenticates, so a caller that must not act on an unverified file
 * (restore) reads it twice: once without `onRecords`, then with it.
 */
export class BackupReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly fileBytes: number,
    private readonly keys: FileKeys,
    private readonly end: { finalOffset: number; finalIndex: number },
  ) {}

  /** Opens a file and checks its header (magic, format, key) and trailer; throws `BackupVerificationError`. */
  static async open(path: string, masterKey: Buffer): Promise<BackupReader> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const header = await readAt(fh, 0, Math.min(HEADER_BYTES, size));
      const keys = openFileKeys(masterKey, header);
      if (size < HEADER_BYTES + LENGTH_BYTES + TAG_BYTES + TRAILER_BYTES) {
        throw new BackupVerificationError(`it is truncated: ${size} bytes cannot hold a manifest`);
      }
      const end = parseTrailer(await readAt(fh, size - TRAILER_BYTES, TRAILER_BYTES), size);
      return new BackupReader(fh, size, keys, end);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The manifest, authenticated (the final chunk only: the data chunks are not read). */
  async manifest(): Promise<BackupManifest> {
    const { finalOffset, finalIndex } = this.end;
    const length = (await readAt(this.fh, finalOffset, LENGTH_BYTES)).readUInt32BE(0);
    if (finalOffset + LENGTH_BYTES + length + TAG_BYTES !== this.fileBytes - TRAILER_BYTES) {
      throw new BackupVerificationError(`its manifest chunk at byte ${finalOffset} does not end where the end marker begins: the file was altered or cut short`);
    }
    const sealed = await readAt(this.fh, finalOffset + LENGTH_BYTES, length + TAG_BYTES);
    return parseManifest(openChunk(this.keys, finalIndex, true, sealed, finalOffset));
  }

  /**
   * Reads every chunk in order and checks everything; `onRecords` gets each
   * data chunk's records once the chunk authenticated (before the rest of
   * the file is checked).
   */
  async read(onRecords?: (records: KeyRecord[]) => Promise<void>): Promise<ReadResult> {
    const tally = new ShardTally();
    const stream = new Sequential(this.fh, HEADER_BYTES, this.fileBytes - TRAILER_BYTES);
    for (let index = 0; ; index++) {
      const at = stream.position;
      if (stream.remaining < LENGTH_BYTES + TAG_BYTES) {
        throw new BackupVerificationError(`it is truncated: it ends after chunk ${index - 1}, without its manifest`);
      }
      const length = (await stream.take(LENGTH_BYTES)).readUInt32BE(0);
      if (length > MAX_CHUNK_BYTES || length + TAG_BYTES > stream.remaining) {
        throw new BackupVerificationError(`chunk ${index} at byte ${at} claims ${length} bytes, more than the file has left: it was cut short or altered`);
      }
      const final = at === this.end.finalOffset;
      const plaintext = openChunk(this.keys, index, final, await stream.take(length + TAG_BYTES), at);
      if (final) {
        if (index !== this.end.finalIndex || stream.remaining !== 0) {
          throw new BackupVerificationError(`its end marker does not match its last chunk (${index} at byte ${at})`);
        }
        const manifest = parseManifest(plaintext);
        checkShards(manifest, tally);
        return { manifest, fileBytes: this.fileBytes, chunks: index };
      }
      const decoded = decodeKeyRecords(plaintext, index);
      for (const d of decoded) tally.add(d.record.shard, d.bytes);
      if (onRecords) await onRecords(decoded.map((d) => d.record));
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new BackupVerificationError(`it is truncated: it ends at byte ${position + done}`);
    done += bytesRead;
  }
  return buf;
}

/** A forward-only view of [from, to) of a file, read in large blocks. */
class Sequential {
  private block: Buffer = Buffer.alloc(0);
  private blockAt: number;

  constructor(
    private readonly fh: FileHandle,
    private at: number,
    private readonly to: number,
  ) {
    this.blockAt = at;
  }

  get position(): number {
    return this.at;
  }

  get remaining(): number {
    return this.to - this.at;
  }

  async take(n: number): Promise<Buffer> {
    const offset = this.at - this.blockAt;
    if (offset + n <= this.block.length) {
      this.at += n;
      return this.block.subarray(offset, offset + n);
    }
    const want = Math.min(Math.max(n, READ_BLOCK_BYTES), this.to - this.at);
    this.block = await readAt(this.fh, this.at, want);
    this.blockAt = this.at;
    this.at += n;
    return this.block.subarray(0, n);
  }
}
