import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { killOnExit } from './child-processes.js';
import { freePort } from './free-port.js';

export const REDIS_MISSING =
  'redis-server was not found on PATH. hexfleet\'s tests and benchmarks need a real Redis: install it with ' +
  '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), or run `bash .ci/run`.';

/** redis-server is not installed: the message says how to get it. Never a silent skip. */
export class RedisMissingError extends Error {
  constructor() {
    super(REDIS_MISSING);
    this.name = 'RedisMissingError';
  }
}

/** Throws {@link RedisMissingError} at once when redis-server is not on PATH. */
export function assertRedisInstalled(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new RedisMissingError();
  }
}

/** How long a (re)started redis-server may take to answer PING (busy CI machines are slow). */
const READY_TIMEOUT_MS = 20_000;
/** A SIGTERMed redis-server that has not exited after this long is SIGKILLed. */
const STOP_GRACE_MS = 5_000;

export interface RedisServerOptions {
  /**
   * Data directory (AOF, redis.log). Default: a temp dir of its own, removed
   * by stop(). A directory passed in is left in place (a benchmark keeps it
   * with --keep-logs).
   */
  dir?: string;
  /** More redis-server arguments, after the defaults (e.g. cluster or replication settings). */
  args?: readonly string[];
  /** TLS only: the port is a tls-port and plaintext is off (`--port 0`). */
  tls?: RedisServerTls;
}

/** A TLS-only redis-server's files (PEM; e.g. from kit/test-certs.ts). */
export interface RedisServerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Require client certificates (tls-auth-clients yes); the kit's own connections show this one. */
  client?: { certFile: string; keyFile: string };
}

/**
 * A real redis-server on loopback, on a free port, with the durability
 * production runs with: AOF on (fsync every second), no RDB snapshots — so a
 * restart keeps what was acked, and a benchmark's figures include the cost
 * of the AOF. Used by the tests (`*.redis.test.ts`) and the benchmarks.
 *
 *   start / startOn ─▶ running ──kill()──▶ gone (a crash: SIGKILL, AOF kept)
 *                        ▲  │                │
 *                        │  └──stop()──▶ stopped (SIGTERM; own dir removed)
 *                        └────launch()───────┘  (same port, same data)
 */
export class RedisServer {
  private proc: ChildProcess | undefined;
  private admin: Redis | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly args: readonly string[] = [],
    readonly tls: RedisServerTls | undefined = undefined,
  ) {}

  /** Starts a server on a free port; resolves once it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    assertRedisInstalled();
    return RedisServer.open(await freePort(), options);
  }

  /** A server on a chosen port: for a gateway that was pointed at the port before Redis existed. */
  static async startOn(port: number, options: RedisServerOptions = {}): Promise<RedisServer> {
    assertRedisInstalled();
    return RedisServer.open(port, options);
  }

  private static async open(port: number, options: RedisServerOptions): Promise<RedisServer> {
    const server = new RedisServer(port, options.dir ?? mkdtempSync(join(tmpdir(), 'hexfleet-redis-')), options.dir === undefined, options.args, options.tls);
    await server.launch();
    return server;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  /** What a client needs for TLS to this server (the CA, and the client certificate when required); undefined without TLS. */
  get clientTls(): ConnectionOptions | undefined {
    const t = this.tls;
    if (!t) return undefined;
    return {
      ca: readFileSync(t.caFile, 'utf8'),
      ...(t.client ? { cert: readFileSync(t.client.certFile, 'utf8'), key: readFileSync(t.client.keyFile, 'utf8') } : {}),
    };
  }

  /** The server process's pid (NaN before launch), for CPU accounting. */
  get pid(): number {
    return this.proc?.pid ?? NaN;
  }

  get logFile(): string {
    return join(this.dir, 'redis.log');
  }

  /**
   * A connection for inspecting and resetting the server (INFO, FLUSHALL,
   * SCAN), opened on first use and closed by stop(). It reconnects by itself
   * across kill() and launch().
   */
  get client(): Redis {
    if (!this.admin) {
      this.admin = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1, ...this.tlsOption() });
      this.admin.on('error', () => {}); // Reported by the command that fails.
    }
    return this.admin;
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

  /** Starts (or restarts) the process on the same port and data directory; resolves once it answers PING. */
  async launch(): Promise<void> {
    const t = this.tls;
    const listen = t
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', t.certFile, '--tls-key-file', t.keyFile,
        '--tls-ca-cert-file', t.caFile, '--tls-auth-clients', t.client ? 'yes' : 'no',
        // Its own outgoing links (replication, cluster bus) show the client certificate: the server one is for serverAuth only.
        ...(t.client ? ['--tls-client-cert-file', t.client.certFile, '--tls-client-key-file', t.client.keyFile] : [])]
      : ['--port', String(this.port)];
    const proc = spawn(
      'redis-server',
      [...listen, '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes',
        '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'no', '--loglevel', 'warning',
        '--logfile', this.logFile, ...this.args],
      { stdio: 'ignore' },
    );
    killOnExit(proc);
    this.proc = proc;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with code ${proc.exitCode} (see ${this.logFile})`);
      if (await this.answersPing()) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`redis-server did not answer on port ${this.port} within ${READY_TIMEOUT_MS / 1000} s (see ${this.logFile})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGSTOP: the process hangs (a network partition, a long GC-like pause) until resume(). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** SIGKILL: the way a crashed Redis goes (the AOF keeps what was written). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return; // already gone (a SIGKILL leaves exitCode null)
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s), closes `client`, removes its own data dir; safe to call twice. */
  async stop(): Promise<void> {
    this.admin?.disconnect();
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGCONT'); // a paused server would not act on SIGTERM
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private tlsOption(): { tls?: ConnectionOptions } {
    const tls = this.clientTls;
    return tls ? { tls } : {};
  }

  private async answersPing(): Promise<boolean> {
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...this.tlsOption() });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  }
}

