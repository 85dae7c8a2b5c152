import type { KafkaConfig, SASLOptions } from 'kafkajs';

/** How KafkaEventLog reaches its cluster and how its consumers behave in their groups. */
export interface KafkaEventLogOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  /** Client id (broker logs, quotas); read() groups are named after it. */
  clientId: string;
  /**
   * An append the log has not confirmed within this time rejects with
   * `log_unavailable`; also the connection and request timeout, and the
   * bound on every admin call (ensureTopics, offsets, check).
   */
  timeoutMs: number;
  /** Replication factor of the topics ensureTopics creates. */
  replicationFactor: number;
  /** TLS; `caPem`: the CA that signed the brokers' certificates (default: the system CAs). */
  ssl?: boolean;
  caPem?: string;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Consumer group session: a member silent this long is dropped (default 30 s; the broker allows ≥ 6 s by default). */
  sessionTimeoutMs?: number;
  /**
   * How long a rebalance waits for a member to finish the batch in hand and
   * rejoin (default 60 s); a member still busy after that loses its
   * partitions and its late commit is refused.
   */
  rebalanceTimeoutMs?: number;
  /** Heartbeats while a handler runs and between batches (default 3 s; below a third of the session). */
  heartbeatIntervalMs?: number;
  /**
   * Longest wait of one fetch on an idle partition (default 500 ms). New
   * records are returned at once regardless; this bounds how long stop()
   * waits for an idle fetch to return.
   */
  fetchMaxWaitMs?: number;
  /** Pause before a rejected batch is handed out again, when consume() does not say (default 1 s). */
  retryDelayMs?: number;
}

/** The consumer settings of these options, defaults filled in. */
export function consumerTiming(o: KafkaEventLogOptions): Required<
  Pick<KafkaEventLogOptions, 'sessionTimeoutMs' | 'rebalanceTimeoutMs' | 'heartbeatIntervalMs' | 'fetchMaxWaitMs' | 'retryDelayMs'>
> {
  return {
    sessionTimeoutMs: o.sessionTimeoutMs ?? 30_000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 60_000,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? 3_000,
    fetchMaxWaitMs: o.fetchMaxWaitMs ?? 500,
    retryDelayMs: o.retryDelayMs ?? 1_000,
  };
}

/**
 * Retries of one kafkajs call (metadata, produce, admin): 100 ms doubling to
 * 1 s, five times — about 2.5 s in all, so a call against a broker that is
 * gone ends soon after the caller's timeout instead of retrying forever in
 * the background (kafkajs's default for an idempotent producer).
 */
export const CALL_RETRY = { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 } as const;

/** The kafkajs client settings of these options (logging is set by the caller). */
export function kafkaClientConfig(o: KafkaEventLogOptions): KafkaConfig {
  const config: KafkaConfig = {
    clientId: o.clientId,
    brokers: [...o.brokers],
    connectionTimeout: o.timeoutMs,
    authenticationTimeout: o.timeoutMs,
    requestTimeout: o.timeoutMs,
    retry: { ...CALL_RETRY },
  };
  if (o.ssl) config.ssl = o.caPem ? { ca: [o.caPem] } : true;
  if (o.sasl) config.sasl = { ...o.sasl } as SASLOptions;
  return config;
}
