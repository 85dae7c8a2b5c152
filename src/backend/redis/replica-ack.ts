import type { Redis } from 'ioredis';
import { HexfleetError } from '../../protocol/error-codes.js';
import { redisCall } from './redis-call.js';

/** What a ReplicaAck reports, for metrics: one call per WAIT answered or failed. */
export interface ReplicaAckObserver {
  /** A WAIT answered: how long it took, how many replicas it counted, and whether that was enough. */
  waited(seconds: number, replicas: number, ok: boolean): void;
}

export interface ReplicaAckOptions {
  /**
   * The connection the writes go to. WAIT counts the replicas that hold the
   * last write *of the connection it is sent on*, so it must be this one.
   */
  redis: Redis;
  /** Replicas that must hold a write before it is acked; 0 turns the barrier off. */
  minReplicas: number;
  /** WAIT's timeout: how long a write waits for its replicas before failing with store_unavailable. */
  timeoutMs: number;
  observer?: ReplicaAckObserver;
}

/**
 * Durability by Redis `WAIT`: `confirm()`, called after a write on the
 * shared command connection has answered, resolves once `minReplicas`
 * replicas hold that write, and rejects with `store_unavailable` when they
 * do not confirm it within `timeoutMs`.
 *
 * Group commit. WAIT covers every earlier write of its connection, and
 * blocks that connection while it waits, so one WAIT serves everyone:
 *
 *   writes   ──w1──w2──┬──────w3──w4──w5──┬──────────
 *   WAIT               └─ WAIT#1 (w1,w2) ─┴─ WAIT#2 (w3,w4,w5) ─
 *
 * a writer whose write answered before a WAIT was sent shares that WAIT's
 * answer; one that arrives while a WAIT is in flight (its write may have
 * come after the WAIT) waits for the next, which is sent as soon as the
 * current one answers and covers everyone who arrived meanwhile. At most
 * one WAIT is in flight, so a stream of writes costs one WAIT per replica
 * round trip, not one per write.
 *
 * Why the shared connection and not a dedicated one: WAIT on a connection
 * that wrote nothing returns at once (there is nothing of its own to wait
 * for), so a dedicated WAIT connection would need every write moved onto it
 * too. On the shared connection a WAIT delays the commands pipelined behind
 * it (reads included) by one replica round trip while replicas are healthy,
 * which is lost in the queueing behind the writes themselves; but a WAIT
 * that runs into its timeout holds every read behind it for `timeoutMs`.
 * So after one short WAIT the barrier fails fast (see `degraded`) until the
 * primary reports enough fresh replicas again: one stall of `timeoutMs`,
 * not one per round. Figures: bench/scenarios/ha-wait-connection.ts and
 * docs/high-availability.md (Redis Sentinel).
 *
 * What a failure means: the write is on the primary but not confirmed on
 * enough replicas, so a failover now may or may not lose it. The caller
 * does not ack it; retrying is safe (pings are seq-idempotent, order
 * commits are version-checked, releases and key bindings are idempotent).
 */
export class ReplicaAck {
  /**
   * Set when a WAIT came back short, cleared when one succeeds. While set,
   * each round first asks the primary which replicas are online and fresh
   * (INFO replication, answered at once) and fails without a WAIT when too
   * few are: otherwise every round would block the shared connection — and
   * the reads queued behind it — for the whole timeout while a replica is
   * gone (measured in bench/scenarios/ha-wait-connection.ts: reads next to a
   * stalled replica went from under a millisecond to a second each).
   */
  private degraded = false;
  /** The WAIT on the wire, if any. */
  private sent: Promise<void> | undefined;
  /** The WAIT that goes out when `sent` answers: it covers writers that arrived after `sent` left. */
  private queued: Promise<void> | undefined;

  constructor(private readonly options: ReplicaAckOptions) {}

  get minReplicas(): number {
    return this.options.minReplicas;
  }

  /** Resolves once the writes this connection answered so far are on `minReplicas` replicas. */
  confirm(): Promise<void> {
    if (this.options.minReplicas <= 0) return Promise.resolve();
    if (this.queued) return this.queued;
    if (!this.sent) return this.send();
    const settled = this.sent.then(noop, noop);
    this.queued = settled.then(() => {
      this.queued = undefined;
      return this.send();
    });
    return this.queued;
  }

  private send(): Promise<void> {
    const p = this.waitOnce().finally(() => {
      if (this.sent === p) this.sent = undefined;
    });
    this.sent = p;
    return p;
  }

  private async waitOnce(): Promise<void> {
    const { redis, minReplicas, timeoutMs, observer } = this.options;
    const started = performance.now();
    let replicas = 0;
    try {
      if (this.degraded) {
        replicas = freshReplicas(await redisCall(() => redis.info('replication')));
        if (replicas < minReplicas) throw notConfirmed(`only ${replicas} of ${minReplicas} replicas are online and acking`);
      }
      replicas = await redisCall(() => redis.wait(minReplicas, timeoutMs));
      if (replicas < minReplicas) throw notConfirmed(`only ${replicas} of ${minReplicas} replicas confirmed it within ${timeoutMs} ms`);
      this.degraded = false;
      observer?.waited((performance.now() - started) / 1000, replicas, true);
    } catch (err) {
      this.degraded = true;
      observer?.waited((performance.now() - started) / 1000, replicas, false);
      throw err;
    }
  }
}

/** The write is on the primary, not (known to be) on enough replicas. */
function notConfirmed(why: string): HexfleetError {
  return new HexfleetError(
    'store_unavailable',
    `the write reached the primary but ${why}, so it may or may not survive a failover; it was not acked, resend it`,
  );
}

function noop(): void {}

/**
 * A replica acks its offset every second by itself, so one whose last ack
 * is more than this old is stalled or cut off (Redis's own
 * min-replicas-max-lag judges the same `lag` field).
 */
const MAX_LAG_S = 1;

/** Replicas in INFO replication (`slaveN:ip=…,state=online,…,lag=0`) that are online and acked within MAX_LAG_S. */
function freshReplicas(info: string): number {
  let n = 0;
  for (const m of info.matchAll(/^slave\d+:(.*)$/gm)) {
    const f = new Map(m[1]!.trim().split(',').map((kv) => kv.split('=') as [string, string]));
    if (f.get('state') === 'online' && Number(f.get('lag')) <= MAX_LAG_S) n++;
  }
  return n;
}
