import type { Logger } from 'pino';
import { type Config, configSchema, envName } from '../../config/config-schema.js';
import { ConfigError } from '../../config/load-config.js';
import type { EventLog } from '../../eventlog/event-log.js';
import { KafkaEventLog } from './kafka-event-log.js';
import { readPemFile } from '../../config/read-pem-file.js';
import type { KafkaEventLogOptions } from './kafka-options.js';

/** The configuration keys the Kafka event log reads (the replication factor is optional: its schema default applies). */
export type KafkaLogConfig = Pick<
  Config,
  'kafkaBrokers' | 'kafkaClientId' | 'kafkaTimeoutMs' | 'kafkaSsl' | 'kafkaCaFile' | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword'
> & Partial<Pick<Config, 'kafkaReplicationFactor'>>;

/** KafkaEventLog options from the configuration (already validated by load-config). */
export function kafkaLogOptions(config: KafkaLogConfig): KafkaEventLogOptions {
  const options: KafkaEventLogOptions = {
    brokers: config.kafkaBrokers.split(',').map((b) => b.trim()).filter((b) => b !== ''),
    clientId: config.kafkaClientId,
    timeoutMs: config.kafkaTimeoutMs,
    replicationFactor: config.kafkaReplicationFactor ?? configSchema.kafkaReplicationFactor.default,
    ssl: config.kafkaSsl,
  };
  if (options.brokers.length === 0) throw new ConfigError(`${envName('kafkaBrokers')} is empty: no broker to connect to`);
  if (config.kafkaSsl && config.kafkaCaFile) options.caPem = readPemFile(config.kafkaCaFile, 'kafkaCaFile');
  if (config.kafkaSaslMechanism !== 'none') {
    options.sasl = { mechanism: config.kafkaSaslMechanism, username: config.kafkaSaslUsername, password: config.kafkaSaslPassword };
  }
  return options;
}

/** The event log of a deployment with `HEXFLEET_KAFKA_BROKERS` set; connections open on first use. */
export function openKafkaLog(config: KafkaLogConfig, log: Logger): EventLog {
  return new KafkaEventLog(kafkaLogOptions(config), log);
}
