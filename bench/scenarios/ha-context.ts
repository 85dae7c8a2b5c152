import { pino } from 'pino';
import { cellToParent, latLngToCell } from 'h3-js';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { SentinelGroup } from '../../kit/redis-sentinel.js';
import type { RedisServer } from '../../kit/redis-server.js';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/create-backend.js';
import type { Config } from '../../src/config/config-schema.js';
import type { Progress } from '../lib/clock.js';
import type { RunOptions } from '../lib/options.js';

/** Every parameter of a bench:ha run; the report prints them next to the figures. */
export interface HaOptions extends RunOptions {
  /** A: failovers measured one after the other on the same group and gateway. */
  failover: { repeats: number; drivers: number; batchPings: number; periodMs: number; matchers: number };
  /** B: bench:ingest's A shape (closed loop) in `pairs` pairs of windows, and an open-loop latency window per mode. */
  durability: { drivers: number; batchPings: number; depth: number; pairs: number; openDrivers: number; openPeriodMs: number; openBatchPings: number };
  /** C: driver batches per write, writes in flight, and how long the replica is stalled. */
  waitConnection: { batchDrivers: number; inflight: number; stallS: number };
}

/**
 * A replicated Redis that a scenario can fail over: the engine under test is
 * a parameter, so the failover scenario runs unchanged on every HA engine.
 * Sentinel and Cluster (kill the primary of the shard the site is on, wait
 * for its replica's promotion) implement it.
 */
export interface HaTopology {
  readonly kind: 'sentinel' | 'cluster';
  /** What was started, for the report's parameters. */
  readonly description: string;
  /** Gateway variables that select the engine and point it here (HEXFLEET_STORE and the addresses). */
  gatewayEnv(): Record<string, string>;
  /** Backend configuration keys for the same (createBackend in the bench process). */
  backendConfig(): Partial<Config>;
  /** The primary a failover scenario kills (Cluster: one shard's). */
  victim(): Promise<RedisServer>;
  /** Resolves once a replica of `victim` serves as primary. */
  waitForFailover(victim: RedisServer): Promise<RedisServer>;
  /** What a supervisor does: restart the killed node as a replica. */
  rejoin(victim: RedisServer): Promise<void>;
  /** Every replica linked, the failure detectors agreeing: ready for the next failover. */
  waitReady(): Promise<void>;
  /** A backend that reads the data under `prefix` straight from the node `at` (the primary after a failover). */
  openDirect(at: RedisServer, prefix: string): Promise<Backend>;
  /** The Redis processes, by name, for CPU accounting. */
  pids(): Map<string, number>;
  /** The current primary (Cluster: any), for the machine line and CPU of a load run. */
  primary(): Promise<RedisServer>;
  /** A replica of that primary. */
  replica(): Promise<RedisServer>;
  stop(): Promise<void>;
}

/** 1 primary, 1 replica and 3 Sentinels (quorum 2) on loopback, as the chaos test and the issue run it. */
export class SentinelTopology implements HaTopology {
  readonly kind = 'sentinel' as const;

  private constructor(
    readonly group: SentinelGroup,
    readonly downAfterMs: number,
  ) {}

  static async start(downAfterMs: number): Promise<SentinelTopology> {
    return new SentinelTopology(await SentinelGroup.start({ downAfterMs, replicas: 1, sentinels: 3 }), downAfterMs);
  }

  get description(): string {
    return `Sentinel: 1 primary + 1 replica (redis-server, AOF everysec, diskless sync) + 3 redis-sentinel (quorum 2, down-after-milliseconds ${this.downAfterMs}, failover-timeout 5000)`;
  }

  gatewayEnv(): Record<string, string> {
    return { HEXFLEET_STORE: 'sentinel', HEXFLEET_REDIS_SENTINELS: this.group.sentinels, HEXFLEET_REDIS_MASTER_NAME: this.group.name };
  }

  backendConfig(): Partial<Config> {
    return { store: 'sentinel', redisSentinels: this.group.sentinels, redisMasterName: this.group.name };
  }

  victim(): Promise<RedisServer> {
    return this.group.primary();
  }

  waitForFailover(victim: RedisServer): Promise<RedisServer> {
    return this.group.waitForPromotion(victim);
  }

  rejoin(victim: RedisServer): Promise<void> {
    return this.group.rejoin(victim);
  }

  waitReady(): Promise<void> {
    return this.group.waitReady();
  }

  async openDirect(at: RedisServer, prefix: string): Promise<Backend> {
    const backend = createBackend(
      { store: 'redis', redisUrl: at.url, redisPrefix: prefix, redisCommandTimeoutMs: 30_000, h3Resolution: 9, staleMs: 600_000, offlineMs: 3_600_000, retentionMs: 86_400_000 },
      pino({ level: 'silent' }),
    );
    await backend.waitUntilReady(10_000);
    return backend;
  }

  pids(): Map<string, number> {
    return new Map(this.group.nodes.map((n, i) => [`redis-server-${i + 1}`, n.pid]));
  }

  primary(): Promise<RedisServer> {
    return this.group.primary();
  }

  async replica(): Promise<RedisServer> {
    const primary = await this.group.primary();
    const node = this.group.nodes.find((n) => n !== primary);
    if (!node) throw new Error('the group has no replica');
    return node;
  }

  stop(): Promise<void> {
    return this.group.stop();
  }
}

/**
 * A Redis Cluster of 3 primaries + 3 replicas (node timeout 1000 ms) with the
 * default shard areas (resolution 3): the benches' Berlin site is on one
 * shard, whose primary is the victim, so "the first ack after the kill" is
 * that shard's, not another shard's that never stopped.
 */
export class ClusterTopology implements HaTopology {
  readonly kind = 'cluster' as const;

  private constructor(readonly cluster: RedisCluster, private readonly site: { lat: number; lng: number }) {}

  static async start(site: { lat: number; lng: number }): Promise<ClusterTopology> {
    return new ClusterTopology(await RedisCluster.start({ primaries: 3 }), site);
  }

  get description(): string {
    return 'Redis Cluster: 3 primaries + 3 replicas (redis-server, AOF everysec, cluster-node-timeout 1000, diskless sync), shard areas at H3 resolution 3';
  }

  gatewayEnv(): Record<string, string> {
    return { HEXFLEET_STORE: 'cluster', HEXFLEET_REDIS_CLUSTER: this.cluster.seeds };
  }

  backendConfig(): Partial<Config> {
    return { store: 'cluster', redisCluster: this.cluster.seeds };
  }

  /** A key of the site's area tag: its slot (prefix-independent) names the shard the site's drivers are on. */
  private get siteKey(): string {
    return `x{a${cellToParent(latLngToCell(this.site.lat, this.site.lng, 9), 3)}}`;
  }

  victim(): Promise<RedisServer> {
    return this.cluster.primaryOf(this.siteKey);
  }

  async waitForFailover(victim: RedisServer): Promise<RedisServer> {
    for (;;) {
      const now = await this.cluster.primaryOf(this.siteKey).catch(() => victim);
      if (now !== victim) return now;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Restarted with its nodes.conf, the node rejoins the cluster and becomes a replica of the promoted one. */
  async rejoin(victim: RedisServer): Promise<void> {
    await victim.launch();
    await this.cluster.waitHealthy();
  }

  waitReady(): Promise<void> {
    return this.cluster.waitHealthy();
  }

  async openDirect(_at: RedisServer, prefix: string): Promise<Backend> {
    const backend = createBackend(
      { store: 'cluster', redisCluster: this.cluster.seeds, redisUrl: '', redisPrefix: prefix, redisCommandTimeoutMs: 30_000, h3Resolution: 9, staleMs: 600_000, offlineMs: 3_600_000, retentionMs: 86_400_000 },
      pino({ level: 'silent' }),
    );
    await backend.waitUntilReady(10_000);
    return backend;
  }

  pids(): Map<string, number> {
    return new Map(this.cluster.nodes.map((n, i) => [`redis-node-${i + 1}`, n.pid]));
  }

  primary(): Promise<RedisServer> {
    return this.cluster.primaryOf(this.siteKey);
  }

  async replica(): Promise<RedisServer> {
    const primary = await this.primary();
    for (const n of this.cluster.nodes) {
      const repl = await n.info('replication').catch(() => ({}) as Record<string, string>);
      if (repl.role === 'slave' && Number(repl.master_port) === primary.port) return n;
    }
    throw new Error(`the shard of port ${primary.port} has no replica`);
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
}

/** What every bench:ha scenario gets from its suite (bench/suites/ha.ts). */
export interface HaContext {
  options: HaOptions;
  topology: HaTopology;
  /** The primary when the scenario starts (quiet-machine and load runs read its pid). */
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /** The environment of a gateway on the topology writing under `prefix`, `settings` on top. */
  gatewayEnv(prefix: string, settings?: Record<string, string>): Record<string, string>;
  gatewayConfig: Config;
}
