// One webhook notifier in a process of its own, configured from the
// environment exactly as a deployment is (HEXFLEET_KAFKA_*, HEXFLEET_WEBHOOK_*),
// for the tests that run several and SIGKILL one. Runs the compiled code in
// dist/ (the tests' global setup builds it), so no TypeScript loader is needed.
//
//   NOTIFY_SESSION_TIMEOUT_MS  consumer group session (a SIGKILLed member's
//                              partitions move after this long); default 30 s
//   NOTIFY_LAG_INTERVAL_MS     how often lag is measured; default 5 s
//
// Prints `notifier ready <pid>` on stdout once it has joined the group; stops
// cleanly (leaves the group, exit 0) on SIGTERM.
import { Registry } from 'prom-client';
import { kafkaLogOptions } from '../../dist/src/backend/kafka/open-kafka-log.js';
import { KafkaEventLog } from '../../dist/src/backend/kafka/kafka-event-log.js';
import { loadConfig } from '../../dist/src/config/load-config.js';
import { LogMetrics } from '../../dist/src/eventlog/log-metrics.js';
import { topicsOf } from '../../dist/src/eventlog/topics.js';
import { NotifyMetrics } from '../../dist/src/notify/notify-metrics.js';
import { notifyGroupOf, WebhookNotifier } from '../../dist/src/notify/webhook-notifier.js';
import { createLogger } from '../../dist/src/runtime/logger.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const sessionTimeoutMs = Number(process.env.NOTIFY_SESSION_TIMEOUT_MS ?? 30_000);
const log = new KafkaEventLog({ ...kafkaLogOptions(config), sessionTimeoutMs, heartbeatIntervalMs: Math.floor(sessionTimeoutMs / 4) }, logger);
const registry = new Registry();
const notifier = new WebhookNotifier({
  log,
  topics: topicsOf(config.kafkaTopicPrefix),
  group: notifyGroupOf(config.kafkaTopicPrefix),
  config,
  logger,
  metrics: new NotifyMetrics(registry),
  logMetrics: new LogMetrics(registry),
  lagIntervalMs: Number(process.env.NOTIFY_LAG_INTERVAL_MS ?? 5_000),
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  notifier
    .stop()
    .then(() => log.close())
    .then(
      () => process.exit(0),
      (err) => {
        logger.error({ err: String(err) }, 'notifier runner: stop failed');
        process.exit(1);
      },
    );
});

await notifier.start();
process.stdout.write(`notifier ready ${process.pid}\n`);
