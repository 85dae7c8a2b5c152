import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HexfleetError } from '../../protocol/error-codes.js';
import { parseRevocation, type Revocation, type RevocationStore } from '../../auth/revocation-store.js';
import { Listeners } from '../listeners.js';
import { redisCall } from './redis-call.js';
import type { RedisFanout } from './redis-fanout.js';

/**
 * Revocations on Redis, for every gateway sharing it:
 *
 *   <prefix>revocations   ZSET  member: the revocation as JSON, score: its keepUntil (ms)
 *                               the key expires with the last keepUntil (PEXPIREAT … GT)
 *   <prefix>revocations   channel: each added revocation, to the other gateways
 *
 * `add` is one MULTI (ZADD, trim of what is past keepUntil, PEXPIREAT GT)
 * followed by a PUBLISH; `list` trims and reads. One key, so the Cluster
 * engine keeps it on one shard. A gateway whose subscriber connection comes
 * back after a loss reads `list` again and delivers it (listeners are
 * idempotent): nothing published meanwhile is missed for longer than the
 * reconnect.
 */
export class RedisRevocationStore implements RevocationStore {
  private readonly key: string;
  private readonly channel: string;
  private readonly listeners: Listeners<Revocation>;
  private readonly stopReconnect: () => void;
  readonly ready: Promise<void>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly fanout: RedisFanout,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.key = prefix + 'revocations';
    this.channel = prefix + 'revocations';
    this.listeners = new Listeners((err, r) => log.error({ err, kind: r.kind }, 'revocation listener failed'));
    this.ready = fanout.listen(this.channel, (raw) => this.onMessage(raw.toString())).catch((err: Error) => {
      log.warn({ err: err.message }, 'revocation subscribe failed; retried on reconnect');
    });
    this.stopReconnect = fanout.onReconnect(() => {
      this.list(Date.now()).then(
        (all) => all.forEach((r) => this.listeners.deliver(r)),
        (err: Error) => log.error({ err: err.message }, 'cannot re-read the revocations after a reconnect'),
      );
    });
  }

  async add(r: Revocation): Promise<void> {
    const json = JSON.stringify(r);
    const keepUntil = Math.ceil(r.keepUntil);
    const replies = await redisCall(() => this.redis.multi()
      .zadd(this.key, r.keepUntil, json)
      .zremrangebyscore(this.key, '-inf', Date.now())
      // NX for a fresh key (GT treats "no expiry" as infinite), then GT: the key lives as long as its longest revocation.
      .pexpireat(this.key, keepUntil, 'NX')
      .pexpireat(this.key, keepUntil, 'GT')
      .exec());
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw new HexfleetError('store_unavailable', 'the revocation was not stored; retry', { cause: failed?.[0] });
    this.listeners.deliver(r);
    this.fanout.publish(this.channel, json).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'revocation not published to other gateways (they read it at their next start or reconnect)');
    });
  }

  async list(now: number): Promise<Revocation[]> {
    const members = await redisCall(() => this.redis.zrangebyscore(this.key, `(${now}`, '+inf'));
    return members.flatMap((m) => {
      const r = parseJson(m);
      return r ? [r] : [];
    });
  }

  subscribe(listener: (revocation: Revocation) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.stopReconnect();
    this.listeners.close();
  }

  private onMessage(raw: string): void {
    const r = parseJson(raw);
    if (!r) {
      this.log.warn('unreadable revocation message');
      return;
    }
    this.listeners.deliver(r);
  }
}

function parseJson(raw: string): Revocation | undefined {
  try {
    return parseRevocation(JSON.parse(raw));
  } catch {
    return undefined;
  }
}
