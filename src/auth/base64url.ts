/** The base64url alphabet, unpadded (RFC 7515 §2). */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes one JWS segment strictly: the unpadded base64url alphabet only, and
 * canonical — re-encoding the bytes gives the same string. Node's decoder
 * forgives padding, foreign characters and non-zero trailing bits, so without
 * this check several strings decode to the same bytes and one signature would
 * stand for several token strings (a cache or a revocation list keyed by the
 * string could then be walked around). Returns undefined when not canonical.
 */
export function decodeBase64url(segment: string): Buffer | undefined {
  // A length of 4n+1 cannot come from any byte string.
  if (segment.length % 4 === 1 || !ALPHABET.test(segment)) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
}
