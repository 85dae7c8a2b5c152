import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { BackupVerificationError } from './backup-errors.js';

/**
 * The byte layout of a backup file. Everything after the header is
 * AES-256-GCM: the file is a stream of authenticated chunks, in the
 * "STREAM" construction of age and Tink's AesGcmHkdfStreaming.
 *
 *   header   "HFBACKUP" | u8 format (1) | salt (32 random bytes) | key check (16)
 *   chunk 0  u32 length n | n bytes ciphertext | 16 bytes GCM tag      key records
 *   chunk 1  …                                                          key records
 *   chunk k  u32 length n | ciphertext | tag                            the manifest (JSON), final
 *   trailer  u64 offset of chunk k | u64 k | "HFBKEND1"                 where the manifest is
 *
 * - The salt is fresh for every backup: HKDF-SHA256(backup key, salt)
 *   gives the backup its own data key, so the 12-byte GCM nonces can be
 *   the chunk's index (u64) and a final flag (u32) without ever repeating
 *   under one key.
 * - A chunk decrypts only at its own index and with its own final flag:
 *   reordering chunks, dropping one, or cutting the file after any chunk
 *   fails authentication; a file that does not end in the final chunk is
 *   truncated.
 * - Every chunk authenticates the header and its own length (GCM AAD), so
 *   a flipped bit anywhere — header, lengths, ciphertext, tags — is caught.
 * - The key check (HKDF output under another label) tells "another key"
 *   from "altered data" before anything is decrypted.
 * - The trailer is a pointer only, not trusted: the chunk it points at must
 *   authenticate as the final one at that index.
 */
export const MAGIC = Buffer.from('HFBACKUP', 'latin1');
/** The last 8 bytes of every complete backup file. */
export const TRAILER_MAGIC = Buffer.from('HFBKEND1', 'latin1');
/** The format this code writes and reads (the header's fifth field). */
export const FORMAT_VERSION = 1;
const SALT_BYTES = 32;
const KEY_CHECK_BYTES = 16;
/** Magic, format, salt, key check. */
export const HEADER_BYTES = MAGIC.length + 1 + SALT_BYTES + KEY_CHECK_BYTES;
/** Final chunk offset (u64), its index (u64), magic. */
export const TRAILER_BYTES = 8 + 8 + TRAILER_MAGIC.length;
/** GCM's full 128-bit tag (never truncated). */
export const TAG_BYTES = 16;
/** The u32 plaintext length in front of each chunk. */
export const LENGTH_BYTES = 4;
/**
 * A chunk's plaintext is flushed once it reaches 1 MiB: large enough that
 * the 36 bytes of framing per chunk are noise, small enough that neither
 * side holds much of a 1,000,000-driver store at once. One key bigger
 * than that goes alone in a chunk of its own size.
 */
export const CHUNK_TARGET_BYTES = 1 << 20;
/** Redis values stop at 512 MB; a length beyond this is a corrupt file, never a reason to allocate. */
export const MAX_CHUNK_BYTES = 1 << 30;

const DATA_KEY_INFO = 'hexfleet backup v1: data key';
const KEY_CHECK_INFO = 'hexfleet backup v1: key check';

/** The keys one backup file is written and read with. */
export interface FileKeys {
  header: Buffer;
  dataKey: Buffer;
}

function derive(masterKey: Buffer, salt: Buffer, info: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, info, bytes));
}

/** A fresh header (new random salt) and the data key it implies. */
export function newFileKeys(masterKey: Buffer): FileKeys {
  const salt = randomBytes(SALT_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), salt, derive(masterKey, salt, KEY_CHECK_INFO, KEY_CHECK_BYTES)]);
  return { header, dataKey: derive(masterKey, salt, DATA_KEY_INFO, 32) };
}

/** Checks a header read from a file and derives its data key; throws `BackupVerificationError` saying what is wrong. */
export function openFileKeys(masterKey: Buffer, header: Buffer): FileKeys {
  if (header.length < HEADER_BYTES || !header.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BackupVerificationError('it is not a hexfleet backup (no HFBACKUP header)');
  }
  const version = header[MAGIC.length]!;
  if (version !== FORMAT_VERSION) throw new BackupVerificationError(`it is in backup format ${version}, this hexfleet reads format ${FORMAT_VERSION}`);
  const salt = header.subarray(MAGIC.length + 1, MAGIC.length + 1 + SALT_BYTES);
  const check = header.subarray(MAGIC.length + 1 + SALT_BYTES, HEADER_BYTES);
  if (!timingSafeEqual(check, derive(masterKey, salt, KEY_CHECK_INFO, KEY_CHECK_BYTES))) {
    throw new BackupVerificationError('the key does not match: it was encrypted under another key than HEXFLEET_BACKUP_KEY_FILE holds (or its header was altered)');
  }
  return { header: Buffer.from(header.subarray(0, HEADER_BYTES)), dataKey: derive(masterKey, salt, DATA_KEY_INFO, 32) };
}

function nonce(index: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 0);
  n.writeUInt32BE(final ? 1 : 0, 8);
  return n;
}

function aad(header: Buffer, length: number): Buffer {
  const len = Buffer.alloc(LENGTH_BYTES);
  len.writeUInt32BE(length);
  return Buffer.concat([header, len]);
}

/** One chunk as written: length, ciphertext, tag. */
export function sealChunk(keys: FileKeys, index: number, final: boolean, plaintext: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', keys.dataKey, nonce(index, final));
  cipher.setAAD(aad(keys.header, plaintext.length));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const len = Buffer.alloc(LENGTH_BYTES);
  len.writeUInt32BE(plaintext.length);
  return Buffer.concat([len, body, cipher.getAuthTag()]);
}

/** The plaintext of a chunk (ciphertext + tag, without the length), or a `BackupVerificationError` naming it. */
export function openChunk(keys: FileKeys, index: number, final: boolean, sealed: Buffer, at: number): Buffer {
  const length = sealed.length - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', keys.dataKey, nonce(index, final));
  decipher.setAAD(aad(keys.header, length));
  decipher.setAuthTag(sealed.subarray(length));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, length)), decipher.final()]);
  } catch {
    throw new BackupVerificationError(
      `chunk ${index}${final ? ' (the manifest)' : ''} at byte ${at} does not authenticate: the file was altered, its chunks reordered, or it was cut short`,
    );
  }
}

/** The trailer pointing at the final chunk. */
export function trailer(finalOffset: number, finalIndex: number): Buffer {
  const t = Buffer.alloc(TRAILER_BYTES);
  t.writeBigUInt64BE(BigInt(finalOffset), 0);
  t.writeBigUInt64BE(BigInt(finalIndex), 8);
  TRAILER_MAGIC.copy(t, 16);
  return t;
}

/** Reads a trailer; throws when the file does not end in one (it was cut short). */
export function parseTrailer(t: Buffer, fileBytes: number): { finalOffset: number; finalIndex: number } {
  if (t.length !== TRAILER_BYTES || !t.subarray(16).equals(TRAILER_MAGIC)) {
    throw new BackupVerificationError(`it is truncated: its ${fileBytes} bytes do not end with the end marker`);
  }
  const finalOffset = Number(t.readBigUInt64BE(0));
  const finalIndex = Number(t.readBigUInt64BE(8));
  if (finalOffset < HEADER_BYTES || finalOffset > fileBytes - TRAILER_BYTES - LENGTH_BYTES - TAG_BYTES) {
    throw new BackupVerificationError(`its end marker points outside the file (byte ${finalOffset} of ${fileBytes})`);
  }
  return { finalOffset, finalIndex };
}
