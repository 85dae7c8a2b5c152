import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { StoreTiming } from '../../geo/driver-store.js';
import type { RingPlanner } from '../../geo/ring-planner.js';
import { detailOf } from '../../protocol/error-codes.js';
import { closeParts } from '../close-parts.js';
import type { Engine, ReadinessCheck } from '../backend.js';
import { RedisAssignmentBus } from './redis-assignment-bus.js';
import { redisCall } from './redis-call.js';
import { connectRedis, type RedisTarget, waitForRedis } from './redis-connection.js';
import { RedisDriverChannel } from './redis-driver-channel.js';
import { RedisDriverStore } from './redis-driver-store.js';
import { RedisFanout } from './redis-fanout.js';
import { RedisOrderStore } from './redis-order-store.js';
import { RedisPositionBus } from './redis-position-bus.js';

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
  readonly channel: RedisDriverChannel;
  readonly positions: RedisPositionBus;
  readonly assignments: RedisAssignmentBus;
  readonly subscribed: Promise<void>;
  private readonly fanout: RedisFanout;
  private closed = false;

  constructor(options: RedisBackendOptions, log: Logger) {
    this.kind = 'url' in options.target ? 'redis' : 'sentinel';
    this.keyPrefix = `${options.prefix}:v1:`;
    this.redis = connectRedis(options);
    watchRedis(this.redis, log);
    this.drivers = new RedisDriverStore({ redis: this.redis, keyPrefix: this.keyPrefix, timing: options.timing, planner: options.planner });
    this.orders = new RedisOrderStore(this.redis, this.keyPrefix, { outbox: options.outbox });
    this.fanout = new RedisFanout(this.redis);
    this.channel = new RedisDriverChannel(this.fanout, this.keyPrefix, log);
    this.positions = new RedisPositionBus(this.fanout, this.keyPrefix, log);
    this.assignments = new RedisAssignmentBus(this.fanout, this.keyPrefix, log);
    this.subscribed = Promise.all([this.channel.ready, this.positions.ready, this.assignments.ready]).then(() => undefined);
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return waitForRedis(this.redis, timeoutMs);
  }

  async readiness(): Promise<ReadinessCheck[]> {
    try {
      await redisCall(() => this.redis.ping());
      return [{ name: 'redis', ok: true }];
    } catch (err) {
      return [{ name: 'redis', ok: false, detail: detailOf(err) }];
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeParts(this);
    this.fanout.close();
    this.redis.disconnect();
  }
}

/** Logs Redis connection changes (once per change, not per retry) and warns when acks would not survive a Redis restart. */
function watchRedis(redis: Redis, log: Logger): void {
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
    if (up !== false) log.error({ err: err.message }, 'redis unreachable; ingest answers store_unavailable until it is back');
    up = false;
  });
}
