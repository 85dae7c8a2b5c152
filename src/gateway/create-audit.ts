import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AccessGuard } from '../audit/access-guard.js';
import type { AuditLog } from '../audit/audit-log.js';
import { AuditMetrics } from '../audit/audit-metrics.js';
import type { AuditSink } from '../audit/audit-sink.js';
import { AuthFailureMonitor } from '../audit/auth-failure-monitor.js';
import { KafkaAuditSink } from '../audit/kafka-audit-sink.js';
import { SinkAuditLog } from '../audit/sink-audit-log.js';
import { StreamAuditSink } from '../audit/stream-audit-sink.js';
import { openKafkaEventLog } from '../backend/create-backend.js';
import type { Config } from '../config/config-schema.js';

/** What one gateway audits with: the trail, and the guard its HTTP and WebSocket plumbing call. */
export interface Audit {
  log: AuditLog;
  guard: AccessGuard;
}

/** `<prefix>.audit`: beside the event log's topics, created by the audit sink on first use. */
export function auditTopicOf(prefix: string): string {
  return `${prefix}.audit`;
}

/**
 * The audit trail a configuration selects: a file or stdout
 * (HEXFLEET_AUDIT_LOG), and the `<prefix>.audit` topic when the event log is
 * configured (HEXFLEET_KAFKA_BROKERS, HEXFLEET_AUDIT_KAFKA). The Kafka sink
 * has a client of its own, so the audit trail never competes with ingest's
 * appends nor trips their circuit breaker. Throws when the file cannot be
 * opened (the gateway then does not start: an audit trail that silently does
 * not exist is worse than none configured).
 */
export function createAudit(config: Config, log: Logger, registry: Registry, gatewayId = `${hostname()}:${process.pid}`): Audit {
  const metrics = new AuditMetrics(registry);
  const sinks: AuditSink[] = [];
  const onDrop = (sink: string, lines = 1): void => metrics.dropped.inc({ sink }, lines);
  if (config.auditLog) {
    try {
      sinks.push(new StreamAuditSink(config.auditLog, log, onDrop));
    } catch (err) {
      throw new Error(`HEXFLEET_AUDIT_LOG: cannot open "${config.auditLog}": ${(err as Error).message}`);
    }
  }
  if (config.kafkaBrokers && config.auditKafka) {
    sinks.push(new KafkaAuditSink(openKafkaEventLog(config, log), {
      topic: auditTopicOf(config.kafkaTopicPrefix),
      partitions: config.kafkaPartitions,
      key: gatewayId,
      maxBuffered: config.auditKafkaBuffer,
      closeTimeoutMs: config.kafkaTimeoutMs,
    }, log, { onDrop, onBuffered: (n) => metrics.kafkaBuffered.set(n) }));
  }
  const auditLog = new SinkAuditLog(sinks, gatewayId, metrics);
  const monitor = new AuthFailureMonitor({
    burst: config.authFailureBurst,
    windowMs: config.authFailureWindowMs,
    cooloffMs: config.authCooloffMs,
    maxTracked: config.authFailureTracked,
  });
  return { log: auditLog, guard: new AccessGuard(auditLog, monitor, metrics, log, config.authFailureTracked) };
}
