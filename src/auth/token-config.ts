import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { JwksKeys } from './jwks-keys.js';
import type { MfaPolicy } from './mfa.js';
import type { TokenPolicy } from './token-policy.js';

/** The token policy the configuration sets: lifetimes per role (trackers: HEXFLEET_TRACKING_TOKEN_TTL_S), iss, aud. */
export function tokenPolicyOf(config: Config): TokenPolicy {
  return {
    maxLifetimeS: {
      driver: config.tokenMaxTtlDriverS,
      customer: config.tokenMaxTtlCustomerS,
      service: config.tokenMaxTtlServiceS,
      admin: config.tokenMaxTtlAdminS,
      tracker: config.trackingTokenTtlS,
    },
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };
}

/** The second-factor policy of admin actions (HEXFLEET_MFA_AMR, HEXFLEET_MFA_MAX_AGE_S). */
export function mfaPolicyOf(config: Config): MfaPolicy {
  return { accepted: config.mfaAmr.split(','), maxAgeS: config.mfaMaxAgeS };
}

/** The configured JWKS (URL or file), not read yet; undefined when neither is set. */
export function jwksOf(config: Config, log: Logger, onChange: () => void): JwksKeys | undefined {
  if (!config.jwksUrl && !config.jwksFile) return undefined;
  return new JwksKeys({
    source: config.jwksUrl ? { url: config.jwksUrl } : { file: config.jwksFile },
    refreshMs: config.jwksRefreshMs,
    minRefreshMs: config.jwksMinRefreshMs,
    timeoutMs: config.jwksTimeoutMs,
    onChange,
    log,
  });
}
