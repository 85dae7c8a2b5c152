import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/config-schema.js';
import type { LogMetrics } from '../eventlog/log-metrics.js';
import { NotifyMetrics } from '../notify/notify-metrics.js';
import { notifyGroupOf, WebhookNotifier } from '../notify/webhook-notifier.js';
import { OutboxRelay } from '../orders/outbox-relay.js';
import { ReplicationApplier, type SourceStatus } from '../replication/replication-applier.js';
import { ReplicationMetrics } from '../replication/replication-metrics.js';
import { joinWithRetry } from '../runtime/join-with-retry.js';
import type { Metrics } from '../runtime/metrics.js';
import { lastPositions } from '../tracking/position-bus.js';

/** How long a notifier that could not join its group waits before trying again. */
const NOTIFIER_RETRY_MS = 5_000;

export interface LogWorkers {
  /** Each source region's replication state (/readyz details); absent without HEXFLEET_REPLICATE_FROM. */
  replication(): Record<string, SourceStatus> | undefined;
  /** Stops the replication applier and the notifier (their batches in hand stay uncommitted for the next member) and the relay. */
  stop(): Promise<void>;
}

/**
 * What a gateway runs on the event log besides ingest, when one is
 * configured: the outbox relay (every gateway; one works, the others stand
 * by) and, with HEXFLEET_WEBHOOK_URL, a member of the notifier's consumer
 * group (partitions spread over the gateways; one that dies hands its
 * partitions to the others). Both start in the background: a log that is
 * down at start delays them, not the gateway; the notifier is tried again
 * until it joins. With HEXFLEET_REPLICATE_FROM, a member of this region's
 * replication group applies the other regions' mirrored topics to the
 * backend (see ReplicationApplier); what it applies is published to this
 * region's tracking and read indexes as local pings are.
 */
export function startLogWorkers(config: Config, backend: Backend, metrics: Metrics, logMetrics: LogMetrics, log: Logger): LogWorkers {
  const eventLog = backend.log;
  if (!eventLog) return { replication: () => undefined, stop: async () => {} };
  const relay = new OutboxRelay({
    orders: backend.orders, log: eventLog, topic: backend.topics.orders, metrics: logMetrics, logger: log, intervalMs: config.outboxRelayIntervalMs,
  });
  relay.start();
  const notifier = config.webhookUrl
    ? new WebhookNotifier({
      log: eventLog, topics: backend.topics, group: notifyGroupOf(config.kafkaTopicPrefix), config, logger: log,
      metrics: new NotifyMetrics(metrics.registry), logMetrics,
    })
    : undefined;
  const stopping = new AbortController();
  const notifierJoined = notifier
    ? joinWithRetry(() => notifier.start(), { signal: stopping.signal, retryMs: NOTIFIER_RETRY_MS, log, what: 'webhook notifier' })
    : undefined;
  const sources = config.replicateFrom.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const applier = sources.length > 0
    ? new ReplicationApplier({
      log: eventLog, topics: backend.topics, prefix: config.kafkaTopicPrefix, region: config.region, sources,
      drivers: backend.drivers, orders: backend.orders, partitions: config.kafkaPartitions,
      metrics: new ReplicationMetrics(metrics.registry), logger: log, orderRetentionMs: config.orderRetentionMs,
      onApplied: (batches, outcomes, from) => backend.positions.publish(lastPositions(batches, outcomes, from)),
    })
    : undefined;
  void applier?.start();
  return {
    replication: () => applier?.status(),
    async stop() {
      stopping.abort();
      await notifierJoined;
      await applier?.stop();
      await notifier?.stop();
      await relay.stop();
    },
  };
}
