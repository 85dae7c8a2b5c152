import type { Principal } from './tokens.js';

/**
 * Verified tokens by their exact string, so that a client presenting the same
 * token on every request pays for one signature check, not one per request.
 *
 * Bounded: past `maxEntries` the oldest entry goes (insertion order, which a
 * Map keeps). What the cache may NOT decide is left to its caller on every
 * hit: expiry (`expiresAt` against now) and revocation (the revocation list).
 * A change of the verification keys empties it (`clear`), so a key rotated
 * out stops verifying at once. Strict base64url makes the string a faithful
 * key: one signature has exactly one token string.
 */
export class TokenCache {
  private readonly entries = new Map<string, Principal>();

  /** `maxEntries` 0 disables the cache. */
  constructor(private readonly maxEntries: number) {}

  get(token: string): Principal | undefined {
    return this.entries.get(token);
  }

  set(token: string, principal: Principal): void {
    if (this.maxEntries === 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, principal);
  }

  delete(token: string): void {
    this.entries.delete(token);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
