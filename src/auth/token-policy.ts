import type { Role } from './tokens.js';

/**
 * What a token must satisfy besides its signature: a lifetime per role, and
 * optionally an issuer and an audience. Built once from the configuration.
 */
export interface TokenPolicy {
  /**
   * Longest lifetime per role in seconds, measured as `exp − iat` (or
   * `exp − now` for a token without `iat`): a token that may live longer is
   * refused, however far it is from expiring.
   */
  readonly maxLifetimeS: Readonly<Record<Role, number>>;
  /** Required `iss`; undefined: not checked. */
  readonly issuer?: string;
  /** Required `aud` (a string equal to it, or an array containing it); undefined: not checked. */
  readonly audience?: string;
}

/** Lifetimes when the configuration gives none (the config schema's defaults). */
export const DEFAULT_MAX_LIFETIME_S: Readonly<Record<Role, number>> = {
  driver: 24 * 3600,
  customer: 24 * 3600,
  service: 24 * 3600,
  admin: 3600,
  tracker: 2 * 3600,
};

/** The longest lifetime of any role, ms: no token valid now can outlive now plus this. */
export function longestLifetimeMs(policy: TokenPolicy): number {
  return Math.max(...Object.values(policy.maxLifetimeS)) * 1000;
}
