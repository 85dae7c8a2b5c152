import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AccessGuard } from '../audit/access-guard.js';
import type { AuditEntry, AuditLog } from '../audit/audit-log.js';
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
 * configured (HEXFLEET_KAFKA_BROKERS, HEXFLEET_AUDIT_KAFKA). A command
 * whose stdout is its output passes `stdout: 'stderr'`: `-` then means stderr. The Kafka sink
 * has a client of its own, so the audit trail never competes with ingest's
 * appends nor trips their circuit breaker. Throws when the file cannot be
 * opened (the gateway then does not start: an audit trail that silently does
 * not exist is worse than none configured).
 */
export function createAudit(
  config: Config, log: Logger, registry: Registry, o: { gatewayId?: string; stdout?: '-' | 'stderr' } = {},
): Audit {
  const gatewayId = o.gatewayId ?? `${hostname()}:${process.pid}`;
  const metrics = new AuditMetrics(registry);
  const sinks: AuditSink[] = [];
  const onDrop = (sink: string, lines = 1): void => metrics.dropped.inc({ sink }, lines);
  if (config.auditLog) {
    try {
      sinks.push(new StreamAuditSink(config.auditLog === '-' ? (o.stdout ?? '-') : config.auditLog, log, onDrop));
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
  const trusted = config.trustedProxies.split(',').map((t) => t.trim()).filter((t) => t !== '');
  return { log: auditLog, guard: new AccessGuard(auditLog, monitor, metrics, log, config.authFailureTracked, trusted) };
}

/**
 * Records one entry from a command (e.g. `hexfleet token`) in the configured
 * trail, then closes it: the file, stderr for `-` (stdout is the command's
 * output), and `<prefix>.audit` when the event log is configured (waiting at
 * most HEXFLEET_KAFKA_TIMEOUT_MS; a line that does not make it is reported on
 * stderr by the log, the command still succeeds). Does nothing when no trail
 * is configured.
 */
export async function auditCommand(config: Config, log: Logger, registry: Registry, entry: AuditEntry): Promise<void> {
  if (!config.auditLog && !(config.kafkaBrokers && config.auditKafka)) return;
  const audit = createAudit(config, log, registry, { gatewayId: `cli@${hostname()}`, stdout: 'stderr' });
  audit.log.record(entry);
  await audit.log.close();
}
