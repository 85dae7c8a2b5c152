/**
 * One revocation: a token id (`jti`) or a whole subject (`sub`).
 *
 * - `jti`: that token is refused until `until` (by default the longest token
 *   lifetime after `at`: by then the token has expired anyway).
 * - `sub`: every token of the subject issued (`iat`) before `until` is
 *   refused; by default `until` is `at`, so tokens minted after the
 *   revocation work, and an `until` in the future suspends the subject until
 *   then. A token of the subject without `iat` is refused while the
 *   revocation is kept.
 *
 * All times are ms since the epoch. `keepUntil` is when the revocation can
 * be forgotten: no token it refuses can still be valid then.
 */
export interface Revocation {
  kind: 'jti' | 'sub';
  value: string;
  at: number;
  until: number;
  keepUntil: number;
  /** Who revoked it (the admin's subject), for the list and the audit. */
  by: string;
}

/**
 * Where revocations live, shared by every gateway of one deployment.
 *
 * Guarantees: `add` resolves once the revocation is stored (a gateway that
 * starts afterwards gets it from `list`), and it is delivered to the
 * listeners of every gateway, this one synchronously inside `add` and the
 * others at most once, soon after (pub/sub, no replay: a gateway whose
 * subscription was lost reads `list` again when it comes back and delivers
 * what it finds, so listeners must be idempotent). `list` returns the
 * revocations whose `keepUntil` is in the future; duplicates are possible
 * (the same jti revoked twice) and harmless. Revocations are never removed
 * before `keepUntil`.
 */
export interface RevocationStore {
  add(revocation: Revocation): Promise<void>;
  list(now: number): Promise<Revocation[]>;
  /** Calls `listener` with every revocation added from now on (or re-read after a lost subscription); returns the remover. */
  subscribe(listener: (revocation: Revocation) => void): () => void;
  /** Resolves once other gateways' revocations reach this process. */
  readonly ready: Promise<void>;
  /** Stops delivery for good (idempotent); the connections belong to the engine. */
  close(): Promise<void>;
}

/** A revocation read back from a store, checked field by field (a store holds what any version wrote). */
export function parseRevocation(value: unknown): Revocation | undefined {
  const r = value as Partial<Revocation> | null;
  if (typeof r !== 'object' || r === null) return undefined;
  if ((r.kind !== 'jti' && r.kind !== 'sub') || typeof r.value !== 'string' || typeof r.by !== 'string') return undefined;
  if (![r.at, r.until, r.keepUntil].every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  return { kind: r.kind, value: r.value, at: r.at!, until: r.until!, keepUntil: r.keepUntil!, by: r.by };
}
