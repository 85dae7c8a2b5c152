import type { Logger } from 'pino';
import { detailOf } from '../protocol/error-codes.js';
import type { EventLog, TopicSpec } from '../eventlog/event-log.js';
import { dlqOf, type Topics } from '../eventlog/topics.js';
import type { Backend, Engine } from './backend.js';

/** How often creating the topics is tried again while the log cannot be reached. */
const TOPICS_RETRY_MS = 1000;
/** Under /readyz's own 1 s budget, so a log that does not answer is reported by name, not as a timeout of the whole probe. */
const LOG_CHECK_TIMEOUT_MS = 700;

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * An engine with the event log beside it. The log's topics (and their
 * dead-letter topics) are created in the background, tried again every
 * second until the log answers: a gateway starts while Kafka is down, says
 * so in readiness, and answers `log_unavailable` to the batches it cannot
 * log. Readiness reports the engine and the log; close closes the log first.
 */
export function withEventLog(engine: Engine, log: EventLog | undefined, topics: Topics, o: { partitions: number; logger: Logger }): Backend {
  let topicsReady = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const specs: TopicSpec[] = [topics.positions, topics.orders, topics.ownership].flatMap((name) => [
    { name, partitions: o.partitions },
    // Dead letters are rare and read by operators: one partition keeps them in one order.
    { name: dlqOf(name), partitions: 1 },
  ]);
  let lastError: string | undefined;
  const ensure = (): void => {
    if (!log || closed) return;
    log.ensureTopics(specs).then(
      () => {
        topicsReady = true;
        if (lastError) o.logger.info('event log topics ready');
      },
      (err: unknown) => {
        const detail = detailOf(err);
        if (detail !== lastError) o.logger.error({ err: detail }, 'cannot create the event log topics; trying again every second');
        lastError = detail;
        retry = setTimeout(ensure, TOPICS_RETRY_MS);
      },
    );
  };
  ensure();

  return {
    kind: engine.kind,
    drivers: engine.drivers,
    orders: engine.orders,
    ownership: engine.ownership,
    channel: engine.channel,
    positions: engine.positions,
    assignments: engine.assignments,
    revocations: engine.revocations,
    subscribed: engine.subscribed,
    log,
    topics,
    waitUntilReady: (timeoutMs) => engine.waitUntilReady(timeoutMs),
    async readiness() {
      const [checks, kafka] = await Promise.all([
        engine.readiness(),
        log && withTimeout(log.check(), LOG_CHECK_TIMEOUT_MS, 'kafka').then(
          () => (topicsReady ? { name: 'kafka', ok: true } : { name: 'kafka', ok: false, detail: `creating topics (${lastError ?? 'in progress'})` }),
          (err: unknown) => ({ name: 'kafka', ok: false, detail: detailOf(err) }),
        ),
      ]);
      return kafka ? [...checks, kafka] : checks;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await log?.close();
      await engine.close();
    },
  };
}
