import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../bench/lib/bench-redis.js';
import { waitFor } from './wait-for.js';

export { freePort };

export const REDIS_MISSING =
  'redis-server was not found on PATH. Tests need a real Redis: install it with ' +
  '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, or run `bash .ci/run`.';

/** Throws with install instructions when redis-server is missing (never a silent skip). */
export function assertRedisInstalled(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(REDIS_MISSING);
  }
}

/**
 * A real redis-server on a free port with its own data directory, AOF on
 * (so a restart keeps what was acked, as in production).
 */
export class RedisServer {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'hexfleet-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    assertRedisInstalled();
    const server = new RedisServer(await freePort());
    await server.launch();
    return server;
  }

  /** A server on a chosen port: for a gateway that was pointed at the port before Redis existed. */
  static async startOn(port: number): Promise<RedisServer> {
    assertRedisInstalled();
    const server = new RedisServer(port);
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts) the process on the same port and data directory. */
  async launch(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes',
        '--save', '', '--protected-mode', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await waitFor(async () => {
        try {
          if (probe.status !== 'ready') await probe.connect().catch(() => {});
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        }
      }, { what: `redis-server on port ${this.port}` });
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: the way a crashed Redis goes (AOF keeps what was written). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return; // already gone (a SIGKILL leaves exitCode null)
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
