import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config/config-schema.js';
import { hostPorts, selectedStore } from '../config/load-config.js';
import type { EventLog } from '../eventlog/event-log.js';
import { guardEventLog } from '../eventlog/guarded-event-log.js';
import { LogMetrics } from '../eventlog/log-metrics.js';
import { OriginRegionLog, regionName } from '../eventlog/origin-region.js';
import { topicsOf } from '../eventlog/topics.js';
import { RingPlanner } from '../geo/ring-planner.js';
import type { Backend, Engine } from './backend.js';
import { openKafkaLog } from './kafka/open-kafka-log.js';
import { MemoryBackend } from './memory/memory-backend.js';
import { RedisClusterBackend } from './redis/cluster/cluster-backend.js';
import { RedisBackend } from './redis/redis-backend.js';
import type { RedisTarget } from './redis/redis-connection.js';
import { redisTlsOptions } from './redis-tls-options.js';
import { withEventLog } from './with-event-log.js';

/** What choosing and opening a backend reads from the configuration. */
export type BackendConfig = Pick<
  Config,
  'store' | 'redisUrl' | 'redisPrefix' | 'redisCommandTimeoutMs' | 'h3Resolution' | 'staleMs' | 'offlineMs' | 'retentionMs'
> & Partial<Pick<Config, KafkaKey | RedisHaKey | 'region'>>;

type RedisHaKey =
  | 'redisSentinels' | 'redisMasterName' | 'redisSentinelPassword' | 'redisPassword' | 'redisMinReplicasAck' | 'redisReplicaAckTimeoutMs'
  | 'redisCluster' | 'redisAreaResolution' | 'redisTls' | 'redisTlsCaFile' | 'redisTlsCertFile' | 'redisTlsKeyFile';

type KafkaKey =
  | 'kafkaBrokers' | 'kafkaTopicPrefix' | 'kafkaPartitions' | 'kafkaReplicationFactor' | 'kafkaClientId' | 'kafkaTimeoutMs' | 'kafkaSsl' | 'kafkaCaFile'
  | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword';

export interface BackendExtras {
  /** Overrides the ring planner (benchmarks compare strategies). */
  planner?: RingPlanner;
  /** The log's metrics (on the gateway's registry, shared with the relay and the notifier); default: on a private registry. */
  logMetrics?: LogMetrics;
  /** Record order events in the store's outbox; default: when an event log is configured (a relay then trims it). */
  outbox?: boolean;
  /** The gateway's registry, for the engine's own metrics (Redis replication and failover); default: a private one. */
  registry?: Registry;
}

/**
 * Consecutive failed appends after which the log fails fast, and for how
 * long: three timeouts in a row is a log that is down, not a slow one, and a
 * second is short enough that a recovered broker is noticed at once.
 */
const LOG_FAILURES_TO_OPEN = 3;
const LOG_OPEN_MS = 1000;

/**
 * The configured event log on its own (for commands that read or write the
 * log without an engine, such as `hexfleet dlq`). Needs `HEXFLEET_KAFKA_BROKERS`.
 */
export function openKafkaEventLog(config: Pick<Config, KafkaKey>, log: Logger): EventLog {
  return openKafkaLog(config, log);
}

/**
 * The backend a configuration selects, opened (connections start in the
 * background; `waitUntilReady` waits for them): the engine, and the event log
 * when `HEXFLEET_KAFKA_BROKERS` is set. The only place that names an engine:
 * an unknown choice cannot get here, the config schema rejects it.
 */
export function createBackend(config: BackendConfig, log: Logger, extras: BackendExtras = {}): Backend {
  const planner = extras.planner ?? new RingPlanner(config.h3Resolution);
  const timing = { staleMs: config.staleMs, offlineMs: config.offlineMs, retentionMs: config.retentionMs };
  const kind = selectedStore({ redisSentinels: '', redisCluster: '', ...config });
  // Order events go to the outbox only when a relay will publish and trim them: every gateway sharing a store must agree.
  const outbox = extras.outbox ?? Boolean(config.kafkaBrokers);
  // Read once: every connection of the engine (and its duplicates for pub/sub) shares them.
  const tls = redisTlsOptions({ redisTls: false, redisTlsCaFile: '', redisTlsCertFile: '', redisTlsKeyFile: '', ...config });
  let engine: Engine;
  switch (kind) {
    case 'memory':
      engine = new MemoryBackend({ timing, planner, outbox }, log);
      break;
    case 'redis':
    case 'sentinel': {
      const target: RedisTarget = kind === 'redis'
        ? { url: config.redisUrl, ...(tls ? { tls } : {}) }
        : {
            sentinels: hostPorts(config.redisSentinels ?? ''),
            name: config.redisMasterName ?? 'hexfleet',
            sentinelPassword: config.redisSentinelPassword || undefined,
            password: config.redisPassword || undefined,
            ...(tls ? { tls } : {}),
          };
      engine = new RedisBackend({
        target, prefix: config.redisPrefix, commandTimeoutMs: config.redisCommandTimeoutMs, timing, planner, outbox,
        minReplicasAck: config.redisMinReplicasAck, replicaAckTimeoutMs: config.redisReplicaAckTimeoutMs, registry: extras.registry,
        ...(config.redisAreaResolution !== undefined ? { areaResolution: config.redisAreaResolution } : {}),
      }, log);
      break;
    }
    case 'cluster':
      engine = new RedisClusterBackend({
        nodes: hostPorts(config.redisCluster ?? ''),
        password: config.redisPassword || undefined,
        ...(tls ? { tls } : {}),
        prefix: config.redisPrefix,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        areaResolution: config.redisAreaResolution ?? 3,
        timing, planner, outbox,
        minReplicasAck: config.redisMinReplicasAck ?? -1,
        replicaAckTimeoutMs: config.redisReplicaAckTimeoutMs ?? 1000,
        ...(extras.registry ? { registry: extras.registry } : {}),
      }, log);
      break;
    default:
      throw new Error(`unknown backend ${String(kind satisfies never)}`);
  }
  let eventLog: EventLog | undefined;
  if (config.kafkaBrokers) {
    // Every record this backend appends names its region: replication in the other regions skips nothing of its own and applies the rest.
    const kafka = new OriginRegionLog(openKafkaLog(config as Pick<Config, KafkaKey>, log), regionName(config.region ?? ''));
    eventLog = guardEventLog(kafka, extras.logMetrics ?? new LogMetrics(new Registry()), {
      failuresToOpen: LOG_FAILURES_TO_OPEN,
      openMs: LOG_OPEN_MS,
      onStateChange: (up, cause) => (up ? log.info('event log appends succeed again') : log.error({ err: String(cause) }, 'event log failing: ingest answers log_unavailable until it is back')),
    });
  }
  return withEventLog(engine, eventLog, topicsOf(config.kafkaTopicPrefix ?? 'hexfleet'), { partitions: config.kafkaPartitions ?? 1, logger: log });
}
