import { pino } from 'pino';
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
 * Sentinel is here; a Cluster topology (kit/redis-cluster.ts: kill one
 * shard's primary, wait for its replica's promotion) implements the same.
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
