import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAllChildren } from '../../kit/child-processes.js';
import { RedisServer } from '../../kit/redis-server.js';
import type { Progress } from './clock.js';

/**
 * What every benchmark run owns: a temp dir, its redis-server (started by a
 * suite that needs one), and a clean-up that stops every child process it
 * started, also on Ctrl-C/SIGTERM. `cleanup` is idempotent; `onCleanup` adds
 * steps that run before Redis stops.
 */
export class BenchSession {
  readonly tmpDir = mkdtempSync(join(tmpdir(), 'hexfleet-bench-'));
  redis: RedisServer | undefined;
  private readonly steps: (() => Promise<void>)[] = [];
  private cleaned: Promise<void> | undefined;

  constructor(
    private readonly progress: Progress,
    private readonly keepLogs: boolean,
  ) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        progress.log('run', `${signal}: stopping every process this run started`);
        void this.cleanup().finally(() => process.exit(130));
      });
    }
  }

  /** The run's redis-server, its data and log in the temp dir. */
  async startRedis(): Promise<RedisServer> {
    this.redis = await RedisServer.start({ dir: this.tmpDir });
    return this.redis;
  }

  onCleanup(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  cleanup(): Promise<void> {
    return (this.cleaned ??= (async () => {
      await stopAllChildren(true);
      for (const step of this.steps) await step();
      await this.redis?.stop();
      if (this.keepLogs) this.progress.log('run', `kept ${this.tmpDir} (gateway logs, Redis data)`);
      else rmSync(this.tmpDir, { recursive: true, force: true });
    })());
  }
}
