import type { Config } from '../../src/config/config-schema.js';
import type { KafkaBroker } from '../../kit/kafka-broker.js';
import type { RedisServer } from '../../kit/redis-server.js';
import type { Progress } from './clock.js';
import type { RunOptions } from './options.js';

/** Every parameter of a bench:log run; the report prints them next to the figures. */
export interface LogOptions extends RunOptions {
  /** L1: the A-throughput shape, measured in `pairs` pairs of windows (log off, log on). */
  throughput: { drivers: number; batchPings: number; depth: number; pairs: number };
  /** L2: the B-latency shape, log off then log on. */
  latency: { drivers: number; batchPings: number; periodMs: number; loadgens: number; gateways: number };
  /**
   * L3: `positions` written straight to the log, then replayed into an empty
   * prefix, once per record size in `pingsPerRecord`: each driver has
   * `recordsPerDriver` records of that many pings (so positions ÷ (records ×
   * pings) drivers), written `pingsPerAppend` pings per append.
   */
  replay: { positions: number; recordsPerDriver: number; pingsPerRecord: number[]; pingsPerAppend: number };
  /** L4: order transitions per second (match + cancel pairs, 3 commits each) against a parked fleet. */
  orders: { transitionsPerS: number; parkedDrivers: number; connections: number };
}

/** What every bench:log scenario gets from its suite (bench/suites/log.ts). */
export interface LogContext {
  options: LogOptions;
  redis: RedisServer;
  /** The run's single-node Kafka (kit/kafka-broker.ts); its JVM's pid is measured as "kafka". */
  kafka: KafkaBroker;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /**
   * The environment of a gateway writing under Redis prefix `prefix`; with
   * `topicPrefix`, the event log is on (HEXFLEET_KAFKA_BROKERS set, topics
   * `<topicPrefix>.positions` …), without it the gateway runs without a log;
   * `settings` on top (a scenario's own HEXFLEET_* values).
   */
  gatewayEnv(prefix: string, topicPrefix?: string, settings?: Record<string, string>): Record<string, string>;
  /** The configuration those gateways run with (log off). */
  gatewayConfig: Config;
}
