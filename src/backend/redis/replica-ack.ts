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
 * it (reads included) by one replica round trip while replicas are healthy —
 * measured in bench/scenarios/ha-wait-connection.ts — and by up to
 * `timeoutMs` when a replica is gone, which is when writes fail anyway.
 *
 * What a failure means: the write is on the primary but not confirmed on
 * enough replicas, so a failover now may or may not lose it. The caller
 * does not ack it; retrying is safe (pings are seq-idempotent, order
 * commits are version-checked, releases and key bindings are idempotent).
 */
export class ReplicaAck {
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
    let replicas: number;
    try {
      replicas = await redisCall(() => redis.wait(minReplicas, timeoutMs));
    } catch (err) {
      observer?.waited((performance.now() - started) / 1000, 0, false);
      throw err;
    }
    const ok = replicas >= minReplicas;
    observer?.waited((performance.now() - started) / 1000, replicas, ok);
    if (!ok) {
      throw new HexfleetError(
        'store_unavailable',
        `the write reached the primary but only ${replicas} of ${minReplicas} replicas confirmed it within ${timeoutMs} ms, ` +
          'so it may or may not survive a failover; it was not acked, resend it',
      );
    }
  }
}

function noop(): void {}
