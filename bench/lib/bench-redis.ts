import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { nowMs, sleep } from './clock.js';

export const REDIS_MISSING =
  'redis-server was not found on PATH. The benchmark needs a real Redis: install it with ' +
  '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), then run it again.';

export class RedisMissingError extends Error {
  constructor() {
    super(REDIS_MISSING);
    this.name = 'RedisMissingError';
  }
}

/** Throws with install instructions when redis-server is missing. */
export function assertRedisInstalled(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new RedisMissingError();
  }
}

/** A free TCP port on loopback (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The benchmark's own redis-server: a free port, a data directory inside the
 * run's temp dir, and the durability production runs with (AOF, fsync every
 * second, no RDB snapshots), so the figures include the cost of the AOF.
 */
export class BenchRedis {
  readonly client: Redis;

  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
  ) {
    this.client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    this.client.on('error', () => {}); // Reported by the command that fails.
  }

  static async start(dir: string): Promise<BenchRedis> {
    assertRedisInstalled();
    const port = await freePort();
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
        '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'no', '--loglevel', 'warning',
        '--logfile', join(dir, 'redis.log')],
      { stdio: 'ignore' },
    );
    const server = new BenchRedis(proc, port);
    const deadline = nowMs() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode} (see ${join(dir, 'redis.log')})`);
      try {
        if (server.client.status === 'wait' || server.client.status === 'end') await server.client.connect();
        if ((await server.client.ping()) === 'PONG') return server;
      } catch {
        // Not listening yet.
      }
      if (nowMs() > deadline) {
        await server.stop();
        throw new Error(`redis-server did not answer on port ${port} within 10 s`);
      }
      await sleep(50);
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc.pid ?? NaN;
  }

  /** One INFO section as a key → value map. */
  async info(section: string): Promise<Record<string, string>> {
    const text = await this.client.info(section);
    const out: Record<string, string> = {};
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s); safe to call twice. */
  async stop(): Promise<void> {
    this.client.disconnect();
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
