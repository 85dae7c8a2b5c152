import { Counter, Histogram, type Registry } from 'prom-client';
import type { ReplicaAckObserver } from './replica-ack.js';

/** Replication and failover metrics of the Redis engines, on the gateway's registry. */
export class RedisHaMetrics implements ReplicaAckObserver {
  /** Time a WAIT took, answered or failed (one WAIT serves every write that arrived before it was sent). */
  readonly replicaAck: Histogram;
  /** WAITs that failed: too few replicas within the timeout, or the connection failed. */
  readonly replicaAckFailures: Counter;
  /** The command connection came back to a different primary address: a failover happened. */
  readonly primaryChanges: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.replicaAck = new Histogram({
      name: 'hexfleet_redis_replica_ack_seconds',
      help: 'Time until Redis WAIT confirmed the writes before it on HEXFLEET_REDIS_MIN_REPLICAS_ACK replicas (or failed).',
      // From the sub-millisecond replica round trip of a healthy group to the default 1 s timeout.
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.replicaAckFailures = new Counter({
      name: 'hexfleet_redis_replica_ack_failures_total',
      help: 'WAITs that did not confirm HEXFLEET_REDIS_MIN_REPLICAS_ACK replicas: their writes failed with store_unavailable (not acked).',
      registers,
    });
    this.primaryChanges = new Counter({
      name: 'hexfleet_redis_primary_changes_total',
      help: 'Times the command connection reconnected to a different Redis primary (a Sentinel failover).',
      registers,
    });
  }

  waited(seconds: number, _replicas: number, ok: boolean): void {
    this.replicaAck.observe(seconds);
    if (!ok) this.replicaAckFailures.inc();
  }
}
