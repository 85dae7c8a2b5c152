import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { httpRequest } from './dispatch-client.js';
import { type Cleanup, JWT_SECRET, unusedFixedPort } from './redis-gateway.js';
import { waitFor } from './wait-for.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Built by the global setup (`npm run build`), so it matches the sources. */
const CLI = 'dist/src/cli.js';

/** The parent's environment without anything that configures hexfleet. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('HEXFLEET_') || ['PORT', 'REDIS_URL', 'UWS_USE_FALLBACK'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * `hexfleet serve` in a child process, as deployed: several of them share one
 * Redis in the multi-gateway and crash tests, and `kill9` is a real crash
 * (no shutdown hook runs). The port is chosen here (below the ephemeral
 * range, see unusedFixedPort) because PORT=0 would not tell us which it got.
 */
export class GatewayProcess {
  output = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Starts a gateway with the test JWT secret plus `env`, and resolves once it
   * answers /readyz with 200. A port taken meanwhile is retried with another.
   */
  static async start(cleanup: Cleanup, env: Record<string, string>, { port: fixedPort }: { port?: number } = {}): Promise<GatewayProcess> {
    let last = '';
    // A fixed port (a gateway restarted where its clients expect it) may still be held for a moment by the previous process's sockets.
    for (let attempt = 0; attempt < (fixedPort === undefined ? 5 : 50); attempt++) {
      const port = fixedPort ?? (await unusedFixedPort());
      const child = spawn(process.execPath, [CLI, 'serve'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: cleanEnv({ HEXFLEET_JWT_SECRET: JWT_SECRET, HEXFLEET_HOST: '127.0.0.1', HEXFLEET_LOG_LEVEL: 'warn', ...env, PORT: String(port) }),
      });
      const gp = new GatewayProcess(child, port);
      cleanup.add(() => gp.kill9());
      await waitFor(
        async () => {
          if (!gp.running) return true;
          const r = await httpRequest(port, 'GET', '/readyz').catch(() => undefined);
          return r?.status === 200;
        },
        { what: `hexfleet serve on port ${port} to be ready`, timeoutMs: 30_000, intervalMs: 50 },
      );
      if (gp.running) return gp;
      last = gp.output;
      if (!/cannot listen/.test(last)) break;
      if (fixedPort !== undefined) await new Promise((r) => setTimeout(r, 200)); // let the port free up before the next try
    }
    throw new Error(`hexfleet serve did not start: ${last}`);
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get driverUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/driver`;
  }

  /** SIGKILL, the way a crashed process goes; resolves once it is gone. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
