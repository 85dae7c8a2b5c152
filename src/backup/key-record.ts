import { BackupVerificationError } from './backup-errors.js';

/**
 * One Redis key as a backup holds it: what `DUMP` returned for it (Redis's
 * own serialization, with its RDB version and CRC64, which `RESTORE`
 * checks), and when it expires.
 */
export interface KeyRecord {
  /** The shard (cluster primary) it was read from; 0 on a single Redis. */
  shard: number;
  key: Buffer;
  /** Absolute expiry, ms since the epoch (PTTL + the time it was read); 0: none. */
  expireAt: number;
  dump: Buffer;
}

/**
 *   u8 1 | u16 shard | u32 key length | key | i64 expireAt | u32 dump length | dump
 *
 * The leading type byte leaves room for other record kinds in a later
 * format; this one knows only keys.
 */
const KEY_RECORD = 1;
const FIXED_BYTES = 1 + 2 + 4 + 8 + 4;

/** One record's bytes, as the writer puts them into a chunk. */
export function encodeKeyRecord(r: KeyRecord): Buffer {
  const out = Buffer.allocUnsafe(FIXED_BYTES + r.key.length + r.dump.length);
  let at = out.writeUInt8(KEY_RECORD, 0);
  at = out.writeUInt16BE(r.shard, at);
  at = out.writeUInt32BE(r.key.length, at);
  at += r.key.copy(out, at);
  at = out.writeBigInt64BE(BigInt(r.expireAt), at);
  at = out.writeUInt32BE(r.dump.length, at);
  r.dump.copy(out, at);
  return out;
}

/**
 * The records of one chunk's plaintext, each with its encoded bytes (for
 * the shard checksums). Records never span chunks, so a chunk that does
 * not parse to its last byte is corrupt — which authentication has already
 * ruled out, short of a writer bug.
 */
export function decodeKeyRecords(chunk: Buffer, chunkIndex: number): { record: KeyRecord; bytes: Buffer }[] {
  const out: { record: KeyRecord; bytes: Buffer }[] = [];
  let at = 0;
  const bad = (what: string): never => {
    throw new BackupVerificationError(`chunk ${chunkIndex} holds a malformed key record at offset ${at} (${what})`);
  };
  while (at < chunk.length) {
    const start = at;
    if (chunk.length - at < FIXED_BYTES) bad('cut short');
    if (chunk.readUInt8(at) !== KEY_RECORD) bad(`unknown record type ${chunk.readUInt8(at)}`);
    const shard = chunk.readUInt16BE(at + 1);
    const keyLength = chunk.readUInt32BE(at + 3);
    at += 7;
    if (at + keyLength + 12 > chunk.length) bad('key longer than the chunk');
    const key = chunk.subarray(at, at + keyLength);
    at += keyLength;
    const expireAt = Number(chunk.readBigInt64BE(at));
    const dumpLength = chunk.readUInt32BE(at + 8);
    at += 12;
    if (at + dumpLength > chunk.length) bad('value longer than the chunk');
    const dump = chunk.subarray(at, at + dumpLength);
    at += dumpLength;
    out.push({ record: { shard, key, expireAt, dump }, bytes: chunk.subarray(start, at) });
  }
  return out;
}
