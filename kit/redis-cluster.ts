import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { clusterNodePort } from './free-port.js';
import { RedisServer, type RedisServerTls } from './redis-server.js';

const run = promisify(execFile);

/** How long the cluster may take to form and to sync every replica (busy CI machines are slow). */
const READY_TIMEOUT_MS = 60_000;

/**
 * A real Redis Cluster on loopback: `primaries` primaries with one replica
 * each (6 nodes by default), node timeout 1 s, diskless sync without delay.
 * Ready means what platform-facts.md says it must: cluster_state:ok on every
 * node AND every replica's link up (a primary killed before its replica's
 * first sync is never failed over).
 *
 * Node ports are below the ephemeral range, their bus ports (+10000) too.
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  /** `tls`: every node TLS-only, the cluster bus and replication over TLS too (tls-cluster, tls-replication). */
  static async start(o: { primaries?: number; tls?: RedisServerTls } = {}): Promise<RedisCluster> {
    const count = (o.primaries ?? 3) * 2;
    const tlsArgs = o.tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : [];
    const cliTls = o.tls
      ? ['--tls', '--cacert', o.tls.caFile, ...(o.tls.client ? ['--cert', o.tls.client.certFile, '--key', o.tls.client.keyFile] : [])]
      : [];
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < count; i++) {
        nodes.push(await RedisServer.startOn(await clusterNodePort(), {
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000',
            '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--cluster-require-full-coverage', 'no', ...tlsArgs],
          ...(o.tls ? { tls: o.tls } : {}),
        }));
      }
      await run('redis-cli', [...cliTls, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
      const cluster = new RedisCluster(nodes);
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw err;
    }
  }

  /** `host:port,host:port,…` of every node: HEXFLEET_REDIS_CLUSTER. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** A cluster client of the test's own (for looking at keys); the caller disconnects it. */
  client(): Cluster {
    const tls = this.nodes[0]?.clientTls;
    const c = new Cluster(this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), { redisOptions: { maxRetriesPerRequest: 1, ...(tls ? { tls } : {}) } });
    c.on('error', () => {});
    return c;
  }

  /** The nodes that are primaries now (asked of each live node). */
  async primaries(): Promise<RedisServer[]> {
    const out: RedisServer[] = [];
    for (const n of this.nodes) {
      const role = await n.info('replication').catch(() => undefined);
      if (role?.role === 'master') out.push(n);
    }
    return out;
  }

  /** The node serving `key`'s slot as primary now. */
  async primaryOf(key: string): Promise<RedisServer> {
    const slot = Number(await this.anyLive().then((n) => n.client.cluster('KEYSLOT', key)));
    for (const n of await this.primaries()) {
      for (const [from, to, primary] of await n.client.cluster('SLOTS')) {
        if (slot >= from && slot <= to && primary?.[1] === n.port) return n;
      }
    }
    throw new Error(`no primary serves slot ${slot}`);
  }

  /**
   * Resolves once every live node says cluster_state:ok, every live replica's
   * link to its primary is up, and each shard has a primary with a replica
   * (after a failover: the killed node must have been relaunched).
   */
  async waitHealthy(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.healthy()) return;
      if (Date.now() > deadline) throw new Error(`redis cluster on ${this.seeds} not healthy within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async healthy(): Promise<boolean> {
    try {
      let replicas = 0;
      for (const n of this.nodes) {
        const state = await n.client.cluster('INFO') as string;
        if (!/cluster_state:ok/.test(state)) return false;
        const repl = await n.info('replication');
        if (repl.role === 'slave') {
          if (repl.master_link_status !== 'up') return false;
          replicas++;
        }
      }
      return replicas === this.nodes.length / 2;
    } catch {
      return false;
    }
  }

  private async anyLive(): Promise<RedisServer> {
    for (const n of this.nodes) if ((await n.client.ping().catch(() => '')) === 'PONG') return n;
    throw new Error('no live cluster node');
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

