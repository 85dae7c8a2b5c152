import type { Redis, RedisOptions } from 'ioredis';
import { DEFAULT_AREA_RESOLUTION } from '../../geo/market-area.js';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { StoreTiming } from '../../geo/driver-store.js';
import type { RingPlanner } from '../../geo/ring-planner.js';
import { detailOf } from '../../protocol/error-codes.js';
import { closeParts } from '../close-parts.js';
import type { Engine, ReadinessCheck } from '../backend.js';
import { addressOfUrl, connectionCause } from './connection-cause.js';
import { RedisAssignmentBus } from './redis-assignment-bus.js';
import { redisCall } from './redis-call.js';
import { connectRedis, type RedisTarget, waitForRedis } from './redis-connection.js';
import { RedisDriverChannel } from './redis-driver-channel.js';
import { RedisDriverStore } from './redis-driver-store.js';
import { RedisFanout } from './redis-fanout.js';
import { RedisRevocationStore } from './redis-revocation-store.js';
import { RedisOrderStore } from './redis-order-store.js';
import { RedisPositionBus } from './redis-position-bus.js';
import { RedisHaMetrics } from './redis-ha-metrics.js';
import { ReplicaAck } from './replica-ack.js';
import { ownershipKeyOf, RedisOwnershipStore } from './redis-ownership-store.js';

export interface RedisBackendOptions {
  /** One Redis by URL (the redis engine) or the primary Sentinels name (the sentinel engine). */
  target: RedisTarget;
  /** Application prefix; the layout version is appended (":v1:"). */
  prefix: string;
  commandTimeoutMs: number;
  timing: StoreTiming;
  planner: RingPlanner;
  /** Record order events in the outbox (only when an event log relays them: nothing else trims it). */
  outbox: boolean;
  /**
   * Replicas that must hold a write (Redis WAIT) before it is acked: -1 means
   * 1 on Sentinel and 0 on one Redis (HEXFLEET_REDIS_MIN_REPLICAS_ACK).
   * Default -1.
   */
  minReplicasAck?: number;
  /** How long a write waits for them before failing with store_unavailable (HEXFLEET_REDIS_REPLICA_ACK_TIMEOUT_MS). Default 1000. */
  replicaAckTimeoutMs?: number;
  /** Where the replication and failover metrics go (the gateway's registry); default a private one. */
  registry?: Registry;
  /** H3 resolution of a position fan-out area (HEXFLEET_REDIS_AREA_RESOLUTION); default 3. */
  areaResolution?: number;
  /** Extra ioredis options (tests). */
  redisOptions?: RedisOptions;
}

/**
 * One standalone Redis for everything: two connections per process, both
 * owned here — commands (stores, Lua scripts, PUBLISH) and one subscriber
 * (channel and buses, see RedisFanout).
 *
 *   RedisBackend ──┬─ redis (commands) ──▶ drivers, orders, PUBLISH
 *                  └─ fanout (SUBSCRIBE) ──▶ channel, positions, assignments
 */
export class RedisBackend implements Engine {
  readonly kind: 'redis' | 'sentinel';
  /** The command connection. */
  readonly redis: Redis;
  /** `<prefix>:v1:`: every key this backend writes starts with it. */
  readonly keyPrefix: string;
  readonly drivers: RedisDriverStore;
  readonly orders: RedisOrderStore;
  readonly ownership: RedisOwnershipStore;
  readonly channel: RedisDriverChannel;
  readonly positions: RedisPositionBus;
  readonly assignments: RedisAssignmentBus;
  readonly revocations: RedisRevocationStore;
  readonly subscribed: Promise<void>;
  /** The WAIT barrier every store write passes (a no-op with `minReplicas` 0). */
  readonly replicaAck: ReplicaAck;
  readonly haMetrics: RedisHaMetrics;
  private readonly fanout: RedisFanout;
  private closed = false;
  /** Why the command connection is down, said plainly (connectionCause); undefined while connected. */
  private connectionDown: string | undefined;

  constructor(options: RedisBackendOptions, log: Logger) {
    this.kind = 'url' in options.target ? 'redis' : 'sentinel';
    this.keyPrefix = `${options.prefix}:v1:`;
    this.redis = connectRedis(options);
    this.haMetrics = new RedisHaMetrics(options.registry ?? new Registry());
    const where = 'url' in options.target ? addressOfUrl(options.target.url) : `the primary "${options.target.name}" of the Sentinels`;
    this.redis.on('ready', () => (this.connectionDown = undefined));
    this.redis.on('error', (err: Error) => (this.connectionDown = connectionCause(err, where)));
    watchRedis(this.redis, log, where);
    watchPrimary(this.redis, this.haMetrics, log);
    const minReplicas = resolveMinReplicasAck(this.kind, options.minReplicasAck ?? -1);
    this.replicaAck = new ReplicaAck({
      redis: this.redis, minReplicas, timeoutMs: options.replicaAckTimeoutMs ?? 1000, observer: this.haMetrics,
    });
    const replicaAck = minReplicas > 0 ? this.replicaAck : undefined;
    this.drivers = new RedisDriverStore({ redis: this.redis, keyPrefix: this.keyPrefix, timing: options.timing, planner: options.planner, replicaAck });
    this.orders = new RedisOrderStore(this.redis, this.keyPrefix, { outbox: options.outbox, replicaAck });
    this.ownership = new RedisOwnershipStore(this.redis, ownershipKeyOf(this.keyPrefix));
    this.fanout = new RedisFanout(this.redis);
    this.channel = new RedisDriverChannel(this.fanout, this.keyPrefix, log);
    this.positions = new RedisPositionBus(this.fanout, this.keyPrefix, log, { areaResolution: options.areaResolution ?? DEFAULT_AREA_RESOLUTION, registry: options.registry });
    this.assignments = new RedisAssignmentBus(this.fanout, this.keyPrefix, log);
    this.revocations = new RedisRevocationStore(this.redis, this.fanout, this.keyPrefix, log);
    this.subscribed = Promise.all([this.channel.ready, this.positions.ready, this.assignments.ready, this.revocations.ready]).then(() => undefined);
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return waitForRedis(this.redis, timeoutMs);
  }

  /**
   * One Redis: it answers PING. Sentinel (or any MIN_REPLICAS_ACK above 0):
   * the node this connection reaches is the primary, named in the detail,
   * and has at least MIN_REPLICAS_ACK replicas connected — with fewer, every
   * write would fail its WAIT, so the gateway is not ready.
   */
  async readiness(): Promise<ReadinessCheck[]> {
    try {
      if (this.kind === 'redis' && this.replicaAck.minReplicas <= 0) {
        await redisCall(() => this.redis.ping());
        return [{ name: 'redis', ok: true }];
      }
      return [replicationCheck(await redisCall(() => this.redis.info('replication')), this.primaryAddress(), this.replicaAck.minReplicas)];
    } catch (err) {
      // While disconnected every call fails with the client's "Stream isn't writeable…": the cause is the connection's.
      const down = this.redis.status === 'ready' ? undefined : this.connectionDown;
      return [{ name: 'redis', ok: false, detail: down ?? detailOf(err) }];
    }
  }

  /** host:port of the node the command connection is on (after a failover: the promoted one). */
  primaryAddress(): string {
    return addressOf(this.redis);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeParts(this);
    this.fanout.close();
    this.redis.disconnect();
  }
}

/** -1 (the default) means 1 on Sentinel, where a replica exists to wait for, and 0 on one Redis. */
export function resolveMinReplicasAck(kind: 'redis' | 'sentinel', configured: number): number {
  if (configured >= 0) return configured;
  return kind === 'sentinel' ? 1 : 0;
}

function addressOf(redis: Redis): string {
  const s = redis.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
}

/** The readiness of a replicated Redis from its INFO replication (role, connected_slaves, slaveN lines). */
function replicationCheck(info: string, address: string, minReplicas: number): ReadinessCheck {
  const fields = new Map<string, string>();
  for (const line of info.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  if (fields.get('role') !== 'master') {
    return { name: 'redis', ok: false, detail: `${address} is a ${fields.get('role') ?? 'unknown'}, not the primary: a failover is in progress (writes fail until the client follows the promoted primary)` };
  }
  const replicas: string[] = [];
  for (const [k, v] of fields) {
    if (!/^slave\d+$/.test(k)) continue;
    const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
    if (f.state === 'online') replicas.push(`${f.ip}:${f.port} (lag ${f.lag} s)`);
  }
  const connected = replicas.length;
  const summary = `primary ${address}, ${connected} replica${connected === 1 ? '' : 's'} online${connected ? ': ' + replicas.join(', ') : ''}`;
  if (connected < minReplicas) {
    return {
      name: 'redis', ok: false,
      detail: `${summary}; HEXFLEET_REDIS_MIN_REPLICAS_ACK is ${minReplicas}, so every write fails with store_unavailable: ` +
        'bring a replica back (start it; Sentinel makes it replicate the primary), or lower HEXFLEET_REDIS_MIN_REPLICAS_ACK and accept that a failover may lose acked writes',
    };
  }
  return { name: 'redis', ok: true, detail: summary };
}

/**
 * Counts and logs (once, at warn) each time the command connection comes back
 * to a different address than before: with Sentinel, a failover. ioredis has
 * no event that carries the new primary, so the connected socket's peer is it.
 */
function watchPrimary(redis: Redis, metrics: RedisHaMetrics, log: Logger): void {
  let primary: string | undefined;
  redis.on('ready', () => {
    const now = addressOf(redis);
    if (primary !== undefined && now !== primary) {
      metrics.primaryChanges.inc();
      log.warn({ from: primary, to: now }, 'redis primary changed (failover): writes go to the promoted node');
    }
    primary = now;
  });
}

/** Logs Redis connection changes (once per change, not per retry) and warns when acks would not survive a Redis restart. */
function watchRedis(redis: Redis, log: Logger, where: string): void {
  let up: boolean | undefined;
  redis.on('ready', () => {
    if (up !== true) log.info('redis connected');
    up = true;
    Promise.all([redis.config('GET', 'appendonly'), redis.config('GET', 'appendfsync')]).then(
      ([aof, fsync]) => {
        const appendfsync = (fsync as string[])[1];
        if ((aof as string[])[1] !== 'yes') {
          log.warn('redis runs without appendonly: acked pings are lost if Redis restarts (set appendonly yes)');
        } else if (appendfsync !== 'always') {
          log.info({ appendfsync }, 'redis fsyncs its append-only file lazily: a machine crash can lose the last seconds of acked pings');
        }
      },
      () => {}, // CONFIG is often disabled on managed Redis: nothing to check.
    );
  });
  redis.on('error', (err: Error) => {
    if (up !== false) log.error({ err: connectionCause(err, where) }, 'redis unreachable; ingest answers store_unavailable until it is back');
    up = false;
  });
}
