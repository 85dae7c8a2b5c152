import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { httpGet } from './http-get.js';
import { stopProcess, track } from './child-processes.js';
import { unusedFixedPort } from './free-port.js';
import { type Scrape, scrapeMetrics } from './metrics-scrape.js';
import { CLI_PATH, REPO_ROOT } from './repo-root.js';

/** Variables of the parent's environment a launched gateway never inherits: its settings are exactly what the caller passes. */
const NOT_INHERITED = (k: string): boolean => k.startsWith('HEXFLEET_') || ['PORT', 'REDIS_URL', 'UWS_USE_FALLBACK'].includes(k);
/** Time for a gateway to answer /readyz 200 (it connects to Redis and loads its scripts first; CI machines are busy). */
const READY_TIMEOUT_MS = 30_000;
/** A SIGTERMed gateway drains, acks and closes; one still running after this long is SIGKILLed. */
const STOP_GRACE_MS = 15_000;

export interface GatewayOptions {
  /** Names the process in errors and its log file (default `gateway`). */
  name?: string;
  /** Its settings (HEXFLEET_*, REDIS_URL…) on top of the parent's environment minus every hexfleet variable. */
  env: Record<string, string>;
  /**
   * A port to listen on (a gateway restarted where its clients expect it).
   * Default: a free one below the ephemeral range (see unusedFixedPort).
   */
  port?: number;
  /** The admin listener's port (/metrics, /readyz details); default: a free one, as for `port`. */
  adminPort?: number;
  /** Output goes to this file (a benchmark keeps it with --keep-logs); default: kept in memory, see `output`. */
  logFile?: string;
  /** Extra node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  nodeArgs?: string[];
  /** PEM CA of a gateway started with HEXFLEET_TLS_CERT_FILE: its readiness is probed over https trusting it. */
  tlsCa?: string;
}

/**
 * `hexfleet serve` (`node dist/src/cli.js serve`) in a process of its own:
 * what a deployment runs, so tests can crash it for real (`kill9`: no
 * shutdown hook runs) and several can share one Redis, and benchmarks
 * measure it with nothing shared with their load generators. Every one
 * started is tracked (child-processes.ts), so a run's clean-up stops it.
 */
export class GatewayProcess {
  readonly exited: Promise<number | null>;
  /** Resolves once the process has exited and its output streams are closed (all of its output is in). */
  private readonly closed: Promise<void>;
  private memoryOutput = '';
  private crashed: Error | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
    /** Its admin listener (HEXFLEET_ADMIN_PORT): /metrics and /readyz with details, no token. */
    readonly adminPort: number,
    private readonly logFile: string | undefined,
    private readonly tls: { ca: string } | undefined = undefined,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.memoryOutput += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.memoryOutput += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    child.once('exit', (code, signal) => {
      this.crashed ??= new Error(`${name} exited (code ${code}, signal ${signal}); last log lines:\n${this.logTail()}`);
    });
  }

  /**
   * Starts a gateway and resolves once it answers /readyz with 200. A port
   * taken meanwhile ("cannot listen") is retried on another one, or, for a
   * fixed port still held by the previous process's sockets, on the same one
   * a little later. A gateway that fails to get ready is killed.
   */
  static async start(o: GatewayOptions): Promise<GatewayProcess> {
    const name = o.name ?? 'gateway';
    let last = '';
    for (let attempt = 0; attempt < (o.port === undefined ? 5 : 50); attempt++) {
      const port = o.port ?? (await unusedFixedPort());
      const adminPort = o.adminPort ?? (await unusedFixedPort());
      const gw = GatewayProcess.spawn(name, o, port, adminPort);
      if (await gw.waitReady()) return gw;
      await gw.closed;
      last = gw.output;
      if (!/cannot listen/.test(last)) break;
      if (o.port !== undefined) await new Promise((r) => setTimeout(r, 200)); // let the port free up before the next try
    }
    throw new Error(`${name}: hexfleet serve did not start; last log lines:\n${tail(last, 20)}`);
  }

  private static spawn(name: string, o: GatewayOptions, port: number, adminPort: number): GatewayProcess {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!NOT_INHERITED(k)) env[k] = v;
    Object.assign(env, o.env, { PORT: String(port), HEXFLEET_HOST: '127.0.0.1', HEXFLEET_ADMIN_PORT: String(adminPort), HEXFLEET_ADMIN_HOST: '127.0.0.1' });
    const fd = o.logFile === undefined ? undefined : openSync(o.logFile, 'a');
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), CLI_PATH, 'serve'], {
      cwd: REPO_ROOT,
      env,
      stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
    });
    if (fd !== undefined) closeSync(fd);
    track(child);
    return new GatewayProcess(name, child, port, adminPort, o.logFile, o.tlsCa === undefined ? undefined : { ca: o.tlsCa });
  }

  get pid(): number {
    return this.child.pid ?? NaN;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The driver stream endpoint. */
  get driverUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/driver`;
  }

  /** The live-tracking endpoint. */
  get trackUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/track`;
  }

  /** Everything it has printed so far (its log file's content when it writes to one). */
  get output(): string {
    if (this.logFile === undefined) return this.memoryOutput;
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(lines = 20): string {
    return tail(this.output, lines) || '(no log)';
  }

  /** Throws if the gateway has exited (on its own, or stopped). */
  assertAlive(): void {
    if (this.crashed) throw this.crashed;
  }

  /** Its /metrics on the admin listener, parsed (see metrics-scrape.ts). */
  async scrape(): Promise<Scrape> {
    this.assertAlive();
    return scrapeMetrics(this.adminPort);
  }

  /** Graceful stop (SIGTERM: drains, acks, closes); SIGKILL if it takes over 15 s. */
  async stop(): Promise<void> {
    this.crashed ??= new Error(`${this.name} was stopped`);
    await stopProcess(this.child, 'SIGTERM', STOP_GRACE_MS);
  }

  /** SIGKILL, the way a crashed process goes; resolves once it is gone. */
  async kill9(): Promise<void> {
    this.crashed ??= new Error(`${this.name} was killed`);
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** True once /readyz answers 200 (on the public port, which listens after the admin one); false if the process exits first. Throws after READY_TIMEOUT_MS. */
  private async waitReady(): Promise<boolean> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!this.running) return false;
      const res = await httpGet(this.port, '/readyz', this.tls).catch(() => undefined);
      if (res?.status === 200) return true;
      if (Date.now() > deadline) {
        await this.kill9();
        throw new Error(`${this.name} not ready within ${READY_TIMEOUT_MS / 1000} s on port ${this.port}; last log lines:\n${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
