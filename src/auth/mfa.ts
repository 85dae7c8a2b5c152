import { type Principal, TokenError } from './tokens.js';

/** What counts as a second factor (HEXFLEET_MFA_AMR, HEXFLEET_MFA_MAX_AGE_S). */
export interface MfaPolicy {
  /** `amr` values (RFC 8176) that show a second factor; one is enough. Default mfa, otp, hwk. */
  readonly accepted: readonly string[];
  /** Longest time since `auth_time` (the authentication that used the factor), seconds. */
  readonly maxAgeS: number;
}

export const DEFAULT_MFA_POLICY: MfaPolicy = { accepted: ['mfa', 'otp', 'hwk'], maxAgeS: 3600 };

/**
 * Decides whether a verified principal satisfies the second-factor policy:
 * its `amr` claim names an accepted method and its `auth_time` is at most
 * `maxAgeS` old (and not in the future). Throws TokenError `mfa_required`
 * (HTTP 403) otherwise, saying which part is missing. The one place this is
 * decided: admin routes call it after the role check.
 */
export function checkMfa(principal: Principal, policy: MfaPolicy, now: number): void {
  const amr = principal.amr ?? [];
  if (!amr.some((m) => policy.accepted.includes(m))) {
    throw new TokenError('mfa_required', `this action needs a token whose amr claim shows a second factor (one of ${policy.accepted.join(', ')}); sign in again with it`);
  }
  const at = principal.authTime;
  if (at === undefined) throw new TokenError('mfa_required', 'this action needs a token with an auth_time claim (when the second factor was used)');
  // A minute of clock skew between the issuer and the gateway, as for iat.
  if (at > now + 60_000 || now - at > policy.maxAgeS * 1000) {
    throw new TokenError('mfa_required', `the second factor was used more than ${policy.maxAgeS} s ago (auth_time); sign in again with it`);
  }
}
