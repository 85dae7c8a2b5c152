import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowMs, sleep } from './clock.js';
import { stopProcess, track } from './children.js';
import { freePort } from './bench-redis.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Prometheus samples of one scrape: `name{labels}` → value, plus when it was taken. */
export interface Scrape {
  at: number;
  series: Map<string, number>;
}

/** Sum of every series of a metric name (all label sets). */
export function metricSum(s: Scrape, name: string): number {
  let total = 0;
  for (const [key, v] of s.series) if (key === name || key.startsWith(name + '{')) total += v;
  return total;
}

/**
 * The real gateway, `node dist/src/cli.js serve`, in its own process: what
 * a deployment runs, so the benchmark measures it with nothing shared with
 * the load generator. Its log goes to a file in the run's temp dir.
 */
export class GatewayProcess {
  private crashed: Error | undefined;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    readonly port: number,
    readonly logFile: string,
  ) {}

  /** Starts a gateway with `env` on top of the caller's environment and waits for /readyz 200. */
  static async start(name: string, env: Record<string, string>, logDir: string): Promise<GatewayProcess> {
    const port = await freePort();
    const logFile = join(logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    // BENCH_GATEWAY_NODE_ARGS: extra node flags for the gateways only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const proc = spawn(process.execPath, [...nodeArgs, CLI, 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: String(port), HEXFLEET_HOST: '127.0.0.1' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    track(proc);
    const gw = new GatewayProcess(name, proc, port, logFile);
    proc.once('exit', (code, signal) => {
      gw.crashed ??= new Error(`${name} exited (code ${code}, signal ${signal}); last log lines:\n${gw.logTail()}`);
    });
    await gw.waitReady(20_000);
    return gw;
  }

  get pid(): number {
    return this.proc.pid ?? NaN;
  }

  /** The driver stream endpoint. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/driver`;
  }

  /** Throws if the gateway has exited on its own. */
  assertAlive(): void {
    if (this.crashed) throw this.crashed;
  }

  async scrape(): Promise<Scrape> {
    this.assertAlive();
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    const text = await res.text();
    const at = nowMs();
    const series = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const sp = line.lastIndexOf(' ');
      series.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
    return { at, series };
  }

  /** Graceful stop (SIGTERM: drains, acks, closes); SIGKILL if it takes over 15 s. */
  async stop(): Promise<void> {
    this.crashed ??= new Error(`${this.name} was stopped`);
    await stopProcess(this.proc, 'SIGTERM', 15_000);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = nowMs() + timeoutMs;
    for (;;) {
      this.assertAlive();
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}/readyz`);
        if (res.status === 200) return;
      } catch {
        // Not listening yet.
      }
      if (nowMs() > deadline) {
        await this.stop();
        throw new Error(`${this.name} not ready within ${timeoutMs / 1000} s; last log lines:\n${this.logTail()}`);
      }
      await sleep(50);
    }
  }
}
