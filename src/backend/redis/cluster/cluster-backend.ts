import type { ConnectionOptions } from 'node:tls';
import { Cluster, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import type { StoreTiming } from '../../../geo/driver-store.js';
import type { RingPlanner } from '../../../geo/ring-planner.js';
import { detailOf, HexfleetError } from '../../../protocol/error-codes.js';
import type { Engine, ReadinessCheck } from '../../backend.js';
import { closeParts } from '../../close-parts.js';
import { RedisAssignmentBus } from '../redis-assignment-bus.js';
import { redisCall } from '../redis-call.js';
import { RedisDriverChannel } from '../redis-driver-channel.js';
import { RedisFanout } from '../redis-fanout.js';
import { RedisRevocationStore } from '../redis-revocation-store.js';
import { RedisHaMetrics } from '../redis-ha-metrics.js';
import { RedisPositionBus } from '../redis-position-bus.js';
import { ReplicaAck } from '../replica-ack.js';
import { ClusterDriverStore } from './cluster-driver-store.js';
import { ClusterLayout } from './cluster-layout.js';
import { ClusterOrderStore } from './cluster-order-store.js';
import { keySlot } from './key-slot.js';
import { RedisOwnershipStore } from '../redis-ownership-store.js';

export interface ClusterBackendOptions {
  /** Seed nodes; the rest of the cluster is discovered from them. */
  nodes: { host: string; port: number }[];
  password?: string;
  /** TLS to every node (the servers run tls-cluster yes); undefined: plaintext. */
  tls?: ConnectionOptions;
  /** Application prefix; the layout version is appended (":v1:"). */
  prefix: string;
  commandTimeoutMs: number;
  /** H3 resolution of a shard area (HEXFLEET_REDIS_AREA_RESOLUTION). */
  areaResolution: number;
  timing: StoreTiming;
  planner: RingPlanner;
  outbox: boolean;
  /** Replicas that must hold a write (WAIT on its shard) before it is acked; -1: 1. */
  minReplicasAck?: number;
  replicaAckTimeoutMs?: number;
  registry?: Registry;
}

/**
 * Redis Cluster: drivers sharded by area, orders by id (see cluster-layout.ts
 * for the key table, ClusterDriverStore and ClusterOrderStore for the steps
 * that cross shards). One cluster client for commands (one connection per
 * node, ioredis routes each call by its key's slot and follows MOVED/ASK
 * and failovers) and one for pub/sub (cluster-wide PUBLISH).
 *
 * Failure behaviour: a shard whose primary is down fails the calls for its
 * slots with `store_unavailable` (no offline queue, CLUSTERDOWN is not
 * retried inside ioredis, which is how a cluster that cannot fail over once
 * ended in an uncaught "Too many Cluster redirections"); calls for every
 * other shard go on. Readiness names the failing shard.
 *
 * Durability: with MIN_REPLICAS_ACK > 0, a write is acked after WAIT on the
 * connection to its shard's primary — the connection ioredis sent it on.
 */
export class RedisClusterBackend implements Engine {
  readonly kind = 'cluster' as const;
  readonly cluster: Cluster;
  /** `<prefix>:v1:`: every key this backend writes starts with it. */
  readonly keyPrefix: string;
  readonly layout: ClusterLayout;
  readonly drivers: ClusterDriverStore;
  readonly orders: ClusterOrderStore;
  readonly ownership: RedisOwnershipStore;
  readonly channel: RedisDriverChannel;
  readonly positions: RedisPositionBus;
  readonly assignments: RedisAssignmentBus;
  readonly revocations: RedisRevocationStore;
  readonly subscribed: Promise<void>;
  readonly haMetrics: RedisHaMetrics;
  private readonly fanout: RedisFanout;
  private readonly minReplicas: number;
  private readonly acks = new Map<Redis, ReplicaAck>();
  private closed = false;

  constructor(private readonly options: ClusterBackendOptions, log: Logger) {
    this.keyPrefix = `${options.prefix}:v1:`;
    this.layout = new ClusterLayout(this.keyPrefix, options.areaResolution);
    this.haMetrics = new RedisHaMetrics(options.registry ?? new Registry());
    this.minReplicas = options.minReplicasAck === undefined || options.minReplicasAck < 0 ? 1 : options.minReplicasAck;
    this.cluster = new Cluster(options.nodes, {
      enableOfflineQueue: false,
      enableReadyCheck: true,
      scaleReads: 'master',
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 0, // fail at once with CLUSTERDOWN (store_unavailable): see the class comment
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: Math.max(1000, options.commandTimeoutMs),
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
      redisOptions: {
        commandTimeout: options.commandTimeoutMs,
        connectTimeout: Math.max(1000, options.commandTimeoutMs),
        maxRetriesPerRequest: 0,
        ...(options.password ? { password: options.password } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
      },
    });
    watchCluster(this.cluster, this.haMetrics, log);
    const confirm = this.minReplicas > 0 ? (key: string) => this.confirm(key) : undefined;
    const moves = new Counter({
      name: 'hexfleet_cluster_area_moves_total',
      help: 'Drivers this gateway moved into another shard area (record seeded there, directory updated, old area cleared).',
      registers: [options.registry ?? new Registry()],
    });
    this.drivers = new ClusterDriverStore({
      cluster: this.cluster, layout: this.layout, timing: options.timing, planner: options.planner, onMove: () => moves.inc(), ...(confirm ? { confirm } : {}),
    });
    this.ownership = new RedisOwnershipStore(this.cluster, (driverId) => this.layout.ownershipKey(driverId));
    this.orders = new ClusterOrderStore({ cluster: this.cluster, layout: this.layout, drivers: this.drivers, outbox: options.outbox, ...(confirm ? { confirm } : {}) });
    this.fanout = new RedisFanout(this.cluster);
    this.channel = new RedisDriverChannel(this.fanout, this.keyPrefix, log);
    this.positions = new RedisPositionBus(this.fanout, this.keyPrefix, log, { areaResolution: options.areaResolution, registry: options.registry });
    this.assignments = new RedisAssignmentBus(this.fanout, this.keyPrefix, log);
    this.revocations = new RedisRevocationStore(this.cluster, this.fanout, this.keyPrefix, log);
    this.subscribed = Promise.all([this.channel.ready, this.positions.ready, this.assignments.ready, this.revocations.ready]).then(() => undefined);
  }

  /**
   * WAIT on the connection to the primary of `key`'s slot, the one ioredis
   * sent the key's writes on (one group-committing barrier per connection).
   */
  private confirm(key: string): Promise<void> {
    const node = this.primaryOf(key);
    if (!node) return Promise.reject(new HexfleetError('store_unavailable', `no primary known for the slot of ${key}`));
    let ack = this.acks.get(node);
    if (!ack) {
      ack = new ReplicaAck({ redis: node, minReplicas: this.minReplicas, timeoutMs: this.options.replicaAckTimeoutMs ?? 1000, observer: this.haMetrics });
      this.acks.set(node, ack);
    }
    return ack.confirm();
  }

  /** The connection ioredis uses for the primary of `key`'s slot (its slot table and pool). */
  private primaryOf(key: string): Redis | undefined {
    const internals = this.cluster as unknown as { slots: string[][]; connectionPool: { getInstanceByKey(k: string): Redis | undefined } };
    const nodeKey = internals.slots[keySlot(key)]?.[0];
    return nodeKey ? internals.connectionPool.getInstanceByKey(nodeKey) : undefined;
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    if (this.cluster.status === 'ready') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.cluster.off('ready', onReady);
        reject(new HexfleetError('store_unavailable', `Redis Cluster not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.cluster.once('ready', onReady);
    });
  }

  /**
   * One check per shard the client knows (its slot ranges and primary): the
   * primary answers PING. A shard whose primary is down fails its check by
   * name, while the others stay ok: requests for their slots keep working.
   */
  async readiness(): Promise<ReadinessCheck[]> {
    if (this.cluster.status !== 'ready') return [{ name: 'redis-cluster', ok: false, detail: `cluster client ${this.cluster.status}` }];
    const internals = this.cluster as unknown as { slots: string[][] };
    const ranges = new Map<string, [number, number][]>();
    internals.slots.forEach((nodes, slot) => {
      const primary = nodes?.[0];
      if (!primary) return;
      const list = ranges.get(primary) ?? [];
      const last = list[list.length - 1];
      if (last && last[1] === slot - 1) last[1] = slot;
      else list.push([slot, slot]);
      ranges.set(primary, list);
    });
    const covered = [...ranges.values()].flat().reduce((n, [a, b]) => n + b - a + 1, 0);
    const checks = await Promise.all([...ranges].map(async ([node, slots]): Promise<ReadinessCheck> => {
      const name = `redis-cluster shard ${node} (slots ${slots.map(([a, b]) => `${a}-${b}`).join(',')})`;
      const redis = (this.cluster as unknown as { connectionPool: { getInstanceByKey(k: string): Redis | undefined } }).connectionPool.getInstanceByKey(node);
      try {
        if (!redis) throw new Error('no connection');
        await redisCall(() => redis.ping());
        return { name, ok: true };
      } catch (err) {
        return { name, ok: false, detail: `primary ${node} does not answer (${detailOf(err)}); its drivers and orders fail until a replica is promoted` };
      }
    }));
    if (covered < 16384) checks.push({ name: 'redis-cluster slots', ok: false, detail: `${16384 - covered} of 16384 slots have no primary` });
    return checks;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeParts(this);
    this.fanout.close();
    this.cluster.disconnect();
  }
}

/** Logs the cluster client's state changes (once per change) and counts the failovers it follows. */
function watchCluster(cluster: Cluster, metrics: RedisHaMetrics, log: Logger): void {
  let up: boolean | undefined;
  let primaries = '';
  cluster.on('ready', () => {
    if (up !== true) log.info('redis cluster connected');
    up = true;
  });
  cluster.on('error', (err: Error) => {
    if (up !== false) log.error({ err: err.message }, 'redis cluster unreachable; calls fail with store_unavailable until it is back');
    up = false;
  });
  // A changed set of primaries after a slot refresh is a failover (or a resharding).
  cluster.on('refresh', () => {
    const now = cluster.nodes('master').map((n) => `${n.options.host}:${n.options.port}`).sort().join(',');
    if (primaries && now !== primaries) {
      metrics.primaryChanges.inc();
      log.warn({ primaries: now }, 'redis cluster primaries changed (failover)');
    }
    primaries = now;
  });
  // ioredis reports per-node failures on the 'node error' event; they show as failed calls and readiness.
  cluster.on('node error', () => {});
}
