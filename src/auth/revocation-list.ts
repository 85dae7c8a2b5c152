import type { Revocation } from './revocation-store.js';
import type { Principal } from './tokens.js';

/**
 * This gateway's copy of the deployment's revocations, asked synchronously
 * on every verification (two Map lookups). Filled from the RevocationStore
 * at start and by its listener; `prune` drops what is past `keepUntil`.
 * Adding is idempotent: for a repeated jti or subject the later `until` wins.
 */
export class RevocationList {
  private readonly jtis = new Map<string, Revocation>();
  private readonly subs = new Map<string, Revocation>();

  add(r: Revocation): void {
    const map = r.kind === 'jti' ? this.jtis : this.subs;
    const held = map.get(r.value);
    if (!held || held.until < r.until) map.set(r.value, r);
  }

  /** The revocation that refuses this principal's token at `now`, if any. */
  revoking(p: Principal, now: number): Revocation | undefined {
    if (p.jti !== undefined) {
      const r = this.jtis.get(p.jti);
      if (r && now < r.until) return r;
    }
    const s = this.subs.get(p.sub);
    if (s && now < s.keepUntil && (p.issuedAt === undefined || p.issuedAt < s.until)) return s;
    return undefined;
  }

  /** Every held revocation (for GET /v1/admin/revocations on the memory engine and tests). */
  all(): Revocation[] {
    return [...this.jtis.values(), ...this.subs.values()];
  }

  prune(now: number): void {
    for (const map of [this.jtis, this.subs]) {
      for (const [k, r] of map) if (r.keepUntil <= now) map.delete(k);
    }
  }
}
