import type { RedisServer } from '../../kit/redis-server.js';
import type { Progress } from './clock.js';
import { waitForQuiet } from './proc-stats.js';

/** Other processes below this share of one core count as quiet (a shell, an editor, the kernel). */
const QUIET_OTHERS_PCT = 15;

/** What awaitQuietMachine needs of a scenario's context (every suite's has it). */
export interface QuietContext {
  redis: RedisServer;
  progress: Progress;
  options: { waitQuietS: number };
}

/** Honours --wait-quiet before a measured window; logs what it waited for. */
export async function awaitQuietMachine(ctx: QuietContext, phase: string, ours: ReadonlyMap<string, number>): Promise<void> {
  if (ctx.options.waitQuietS <= 0) return;
  const all = new Map([...ours, ['redis-server', ctx.redis.pid], ['bench', process.pid]]);
  const quiet = await waitForQuiet(all, QUIET_OTHERS_PCT, ctx.options.waitQuietS, (pct) =>
    ctx.progress.log(phase, `waiting for other processes to go quiet (they use ${Math.round(pct)} % of one core)`),
  );
  if (!quiet) ctx.progress.log(phase, `machine still busy after ${ctx.options.waitQuietS} s; measuring anyway`);
}
