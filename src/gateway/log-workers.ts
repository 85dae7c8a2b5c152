import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/config-schema.js';
import type { LogMetrics } from '../eventlog/log-metrics.js';
import { NotifyMetrics } from '../notify/notify-metrics.js';
import { notifyGroupOf, WebhookNotifier } from '../notify/webhook-notifier.js';
import { OutboxRelay } from '../orders/outbox-relay.js';
import type { Metrics } from '../runtime/metrics.js';

/** How long a notifier that could not join its group waits before trying again. */
const NOTIFIER_RETRY_MS = 5_000;

export interface LogWorkers {
  /** Stops the notifier (its batch in hand stays uncommitted for the next member) and the relay. */
  stop(): Promise<void>;
}

/**
 * What a gateway runs on the event log besides ingest, when one is
 * configured: the outbox relay (every gateway; one works, the others stand
 * by) and, with HEXFLEET_WEBHOOK_URL, a member of the notifier's consumer
 * group (partitions spread over the gateways; one that dies hands its
 * partitions to the others). Both start in the background: a log that is
 * down at start delays them, not the gateway; the notifier is tried again
 * until it joins.
 */
export function startLogWorkers(config: Config, backend: Backend, metrics: Metrics, logMetrics: LogMetrics, log: Logger): LogWorkers {
  const eventLog = backend.log;
  if (!eventLog) return { stop: async () => {} };
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
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const startNotifier = (): void => {
    notifier?.start().catch((err: unknown) => {
      if (stopped) return;
      log.error({ err: String(err) }, `webhook notifier did not start; trying again in ${NOTIFIER_RETRY_MS} ms`);
      retry = setTimeout(startNotifier, NOTIFIER_RETRY_MS);
    });
  };
  startNotifier();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await notifier?.stop();
      await relay.stop();
    },
  };
}
