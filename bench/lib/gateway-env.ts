import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';

/** A run's gateway environment, see {@link makeGatewayEnv}. */
export interface GatewayEnv {
  /** The environment of a gateway writing under `prefix`, with a suite's own `settings` on top of the benchmark's. */
  gatewayEnv(prefix: string, settings?: Record<string, string>): Record<string, string>;
  /** The configuration those gateways run with (without `settings`), validated by the gateway's own loader. */
  gatewayConfig: Config;
  /** HEXFLEET_* variables the caller set, passed to the gateways on top of everything else and listed in the report. */
  userOverrides: Record<string, string>;
}

/**
 * The gateway environment of a run: the benchmark's settings, a suite's own,
 * then any HEXFLEET_* the caller set (so a tuning experiment needs no code
 * change), and the Config those resolve to.
 */
export function makeGatewayEnv(redisUrl: string, jwtSecret: string, env: NodeJS.ProcessEnv): GatewayEnv {
  const userOverrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('HEXFLEET_') && v !== undefined) userOverrides[k] = v;
  const gatewayEnv = (prefix: string, settings: Record<string, string> = {}): Record<string, string> => ({
    REDIS_URL: redisUrl,
    HEXFLEET_JWT_SECRET: jwtSecret,
    HEXFLEET_LOG_LEVEL: 'warn',
    // The benchmark drives one connection far past a phone's rate (A: ~150+ pings/s
    // per driver); the limit is not what is being measured.
    HEXFLEET_RATE_PINGS_PER_SEC: '1000000',
    HEXFLEET_RATE_BURST: '10000000',
    // Nor the frame rate (issue 11's abuse limit; bench:flood measures it).
    HEXFLEET_FRAME_RATE_PER_SEC: '100000',
    HEXFLEET_FRAME_BURST: '1000000',
    HEXFLEET_MAX_BATCH: '500',
    HEXFLEET_INGEST_FLUSH_PINGS: '4096',
    HEXFLEET_REDIS_PREFIX: prefix,
    ...settings,
    ...userOverrides,
  });
  const gatewayConfig = loadConfig({ ...gatewayEnv('hfbench'), PORT: '0' });
  return { gatewayEnv, gatewayConfig, userOverrides };
}

/** The report's note on how the gateways ran: every setting but the secret and the Redis URL. */
export function describeGatewayEnv(env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([k]) => !/SECRET|REDIS_URL/.test(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}
