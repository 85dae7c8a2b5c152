import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { BenchRedis } from './bench-redis.js';
import type { Progress } from './clock.js';
import type { BenchOptions } from './options.js';
import { waitForQuiet } from './proc-stats.js';

/** What every scenario gets from the orchestrator. */
export interface BenchContext {
  options: BenchOptions;
  redis: BenchRedis;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /** The environment of a gateway process writing under `prefix`. */
  gatewayEnv(prefix: string): Record<string, string>;
  /** The configuration those gateways run with (the ceiling mirrors its batching). */
  gatewayConfig: Config;
  /** HEXFLEET_* variables the caller set, passed to the gateways on top of the benchmark's own. */
  userOverrides: Record<string, string>;
}

/** Other processes below this share of one core count as quiet (a shell, an editor, the kernel). */
const QUIET_OTHERS_PCT = 15;

/** What awaitQuietMachine needs of a run's context (bench:ingest's and bench:match's both have it). */
export type QuietContext = Pick<BenchContext, 'redis' | 'progress'> & { options: { waitQuietS: number } };

/** Honours --wait-quiet before a measured window; logs what it waited for. */
export async function awaitQuietMachine(ctx: QuietContext, phase: string, ours: ReadonlyMap<string, number>): Promise<void> {
  if (ctx.options.waitQuietS <= 0) return;
  const all = new Map([...ours, ['redis-server', ctx.redis.pid], ['bench', process.pid]]);
  const quiet = await waitForQuiet(all, QUIET_OTHERS_PCT, ctx.options.waitQuietS, (pct) =>
    ctx.progress.log(phase, `waiting for other processes to go quiet (they use ${Math.round(pct)} % of one core)`),
  );
  if (!quiet) ctx.progress.log(phase, `machine still busy after ${ctx.options.waitQuietS} s; measuring anyway`);
}

/**
 * The gateway environment of this run: the benchmark's settings, then any
 * HEXFLEET_* the caller set (so a tuning experiment needs no code change),
 * and the Config those resolve to, validated by the gateway's own loader.
 */
export function makeGatewayEnv(
  redisUrl: string,
  jwtSecret: string,
  env: NodeJS.ProcessEnv,
): { gatewayEnv: (prefix: string) => Record<string, string>; gatewayConfig: Config; userOverrides: Record<string, string> } {
  const userOverrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('HEXFLEET_') && v !== undefined) userOverrides[k] = v;
  const gatewayEnv = (prefix: string): Record<string, string> => ({
    REDIS_URL: redisUrl,
    HEXFLEET_JWT_SECRET: jwtSecret,
    HEXFLEET_LOG_LEVEL: 'warn',
    // The benchmark drives one connection far past a phone's rate (A: ~150+ pings/s
    // per driver); the limit is not what is being measured.
    HEXFLEET_RATE_PINGS_PER_SEC: '1000000',
    HEXFLEET_RATE_BURST: '10000000',
    HEXFLEET_MAX_BATCH: '500',
    HEXFLEET_INGEST_FLUSH_PINGS: '4096',
    HEXFLEET_REDIS_PREFIX: prefix,
    ...userOverrides,
  });
  const gatewayConfig = loadConfig({ ...gatewayEnv('hfbench'), PORT: '0' });
  return { gatewayEnv, gatewayConfig, userOverrides };
}
