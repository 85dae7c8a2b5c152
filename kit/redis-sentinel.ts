import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { killOnExit, stopProcess } from './child-processes.js';
import { freePort } from './free-port.js';
import { assertRedisInstalled, RedisServer, type RedisServerTls } from './redis-server.js';

export const SENTINEL_MISSING =
  'redis-sentinel was not found on PATH. The Sentinel tests and benchmarks need a real one: install it with ' +
  '`sudo apt-get install -y redis-sentinel` (Debian/Ubuntu; macOS: it comes with `brew install redis`), or run `bash .ci/run`.';

/** Throws at once, saying how to install it, when redis-sentinel is not on PATH. Never a silent skip. */
export function assertSentinelInstalled(): void {
  assertRedisInstalled();
  try {
    execFileSync('redis-sentinel', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(SENTINEL_MISSING);
  }
}

/** How long the group may take to be ready (busy CI machines are slow). */
const READY_TIMEOUT_MS = 60_000;

export interface SentinelGroupOptions {
  /** The name the Sentinels monitor (HEXFLEET_REDIS_MASTER_NAME). */
  name?: string;
  /** Sentinel down-after-milliseconds: how long a silent primary takes to be judged down. */
  downAfterMs?: number;
  replicas?: number;
  sentinels?: number;
  /** Every node and Sentinel TLS-only; replication and the Sentinels' links to the nodes over TLS too. */
  tls?: RedisServerTls;
}

/**
 * Real Redis replication with automated failover on loopback: one primary,
 * its replicas (1 by default) and Sentinels (3, quorum 2) watching them, as
 * platform-facts.md measured it. Ready means: every replica's link up and
 * every Sentinel knows the others and the replicas.
 *
 * `nodes[0]` is the first primary; after a failover, `primary()` asks the
 * Sentinels which node it is now.
 */
export class SentinelGroup {
  private constructor(
    readonly name: string,
    readonly nodes: RedisServer[],
    readonly sentinelPorts: number[],
    private readonly sentinelProcs: ChildProcess[],
    private readonly dir: string,
  ) {}

  static async start(o: SentinelGroupOptions = {}): Promise<SentinelGroup> {
    assertSentinelInstalled();
    const name = o.name ?? 'hexfleet';
    const nodes: RedisServer[] = [];
    const procs: ChildProcess[] = [];
    const ports: number[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'hexfleet-sentinel-'));
    try {
      const t = o.tls;
      const tls = t ? { tls: t } : {};
      const tlsRepl = t ? ['--tls-replication', 'yes'] : [];
      const primary = await RedisServer.start({ args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', ...tlsRepl], ...tls });
      nodes.push(primary);
      for (let i = 0; i < (o.replicas ?? 1); i++) {
        nodes.push(await RedisServer.start({
          args: ['--replicaof', '127.0.0.1', String(primary.port), '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', ...tlsRepl],
          ...tls,
        }));
      }
      for (let i = 0; i < (o.sentinels ?? 3); i++) {
        const port = await freePort();
        const conf = join(dir, `sentinel-${port}.conf`);
        writeFileSync(conf, [
          ...(t
            ? ['port 0', `tls-port ${port}`, `tls-cert-file ${t.certFile}`, `tls-key-file ${t.keyFile}`, `tls-ca-cert-file ${t.caFile}`,
              `tls-auth-clients ${t.client ? 'yes' : 'no'}`, 'tls-replication yes',
              ...(t.client ? [`tls-client-cert-file ${t.client.certFile}`, `tls-client-key-file ${t.client.keyFile}`] : [])]
            : [`port ${port}`]),
          'bind 127.0.0.1', 'protected-mode no', `dir ${dir}`, `logfile ${join(dir, `sentinel-${port}.log`)}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${name} ${o.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'));
        const proc = spawn('redis-sentinel', [conf], { stdio: 'ignore' });
        killOnExit(proc);
        procs.push(proc);
        ports.push(port);
      }
      const group = new SentinelGroup(name, nodes, ports, procs, dir);
      await group.waitReady();
      return group;
    } catch (err) {
      await Promise.all([...nodes.map((n) => n.stop()), ...procs.map((p) => stopProcess(p))]);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** TLS options of a client of this group's Sentinels and nodes (the CA and the client certificate); none without TLS. */
  clientTls(): { tls?: ConnectionOptions } {
    const tls = this.nodes[0]?.clientTls;
    return tls ? { tls } : {};
  }

  /** `host:port,…` of the Sentinels: HEXFLEET_REDIS_SENTINELS. */
  get sentinels(): string {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** The node the Sentinels name as primary now. */
  async primary(): Promise<RedisServer> {
    const [, port] = await this.ask((s) => s.call('SENTINEL', 'get-master-addr-by-name', this.name) as Promise<[string, string]>);
    const node = this.nodes.find((n) => n.port === Number(port));
    if (!node) throw new Error(`sentinels name 127.0.0.1:${port} as primary, not one of this group's nodes`);
    return node;
  }

  /**
   * Resolves once the Sentinels name a primary other than `old` and that
   * node says it is a primary (role:master): the failover is done.
   */
  async waitForPromotion(old: RedisServer, timeoutMs = READY_TIMEOUT_MS): Promise<RedisServer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.primary().catch(() => old);
      if (now !== old && (await now.info('replication').catch(() => ({ role: '' }))).role === 'master') return now;
      if (Date.now() > deadline) throw new Error(`no replica of ${this.name} was promoted within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * What a supervisor does after a node crashed: start it again (same port,
   * same data) and make it a replica of the primary the Sentinels name now.
   * Sentinel would convert a returned old primary by itself, but only after
   * it has reported itself a master for 8 s (4 × Sentinel's 2 s publish
   * period) — and until a replica is back, a primary with
   * HEXFLEET_REDIS_MIN_REPLICAS_ACK 1 acks nothing. Resolves once its link
   * to the primary is up.
   */
  async rejoin(node: RedisServer, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await node.launch();
    const primary = await this.primary();
    if (primary === node) return;
    await node.client.call('REPLICAOF', '127.0.0.1', String(primary.port));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const repl = await node.info('replication').catch(() => ({}) as Record<string, string>);
      if (repl.role === 'slave' && repl.master_link_status === 'up' && Number(repl.master_port) === primary.port) return;
      if (Date.now() > deadline) throw new Error(`node ${node.port} did not sync from the primary ${primary.port} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves once every replica of the current primary has its link up and the Sentinels know them all. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.ready()) return;
      if (Date.now() > deadline) throw new Error(`sentinel group ${this.name} not ready within ${timeoutMs / 1000} s (logs in ${this.dir})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async ready(): Promise<boolean> {
    try {
      const primary = await this.primary();
      const live = this.nodes.filter((n) => n !== primary);
      for (const n of live) {
        const repl = await n.info('replication');
        if (repl.role !== 'slave' || repl.master_link_status !== 'up' || Number(repl.master_port) !== primary.port) return false;
      }
      for (const port of this.sentinelPorts) {
        const s = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...this.clientTls() });
        s.on('error', () => {});
        try {
          const master = await s.call('SENTINEL', 'master', this.name) as string[];
          const field = (k: string): number => Number(master[master.indexOf(k) + 1]);
          if (field('num-slaves') < live.length || field('num-other-sentinels') < this.sentinelPorts.length - 1) return false;
        } finally {
          s.disconnect();
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  /** The first Sentinel that answers `question`. */
  private async ask<T>(question: (s: Redis) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const port of this.sentinelPorts) {
      const s = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...this.clientTls() });
      s.on('error', () => {});
      try {
        return await question(s);
      } catch (err) {
        last = err;
      } finally {
        s.disconnect();
      }
    }
    throw new Error(`no sentinel answered: ${String(last)}`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinelProcs.map((p) => stopProcess(p)), ...this.nodes.map((n) => n.stop())]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
