import { type LogEntry, type logCreator, logLevel } from 'kafkajs';
import type { Logger } from 'pino';

/**
 * kafkajs lines (message or `error` field) that report a condition it
 * recovers from by itself: on a fresh broker every first group or producer
 * call answers "coordinator is loading" and is retried; a moved coordinator
 * or leader is looked up again; a rebalance is joined. Its consumer crash
 * and restart lines are logged by KafkaLogConsumer itself, with the group;
 * the retry limit of our idempotent producer is deliberate (see
 * KafkaAppender). Logged at debug, not as errors.
 */
const SELF_HEALING = [
  /coordinator is loading/i,
  /coordinator is not available/i,
  /not the correct coordinator/i,
  /not the leader for that topic-partition/i,
  /no leader for this topic-partition/i,
  /group is rebalancing/i,
  /^Crash: /,
  /^Restarting the consumer in/,
  /Limiting retries for the idempotent producer/,
];

/** Whether a kafkajs message or error text reports a condition kafkajs recovers from by itself (see SELF_HEALING). */
export function isSelfHealing(text: string): boolean {
  return SELF_HEALING.some((re) => re.test(text));
}

/** The same message is logged at most once per this interval (a broker that is down fails every retry of every call). */
const REPEAT_MS = 10_000;

/**
 * Routes kafkajs's own logging to pino, at warn and above only (kafkajs is
 * created with `logLevel.WARN`, so it does not even build its info lines):
 * a line per incident, never per record. Retried conditions go to debug
 * (see SELF_HEALING); a message repeated within 10 s is counted and logged
 * with the count the next time it is let through.
 */
export function kafkajsLogCreator(log: Logger): logCreator {
  const child = log.child({ component: 'kafkajs' });
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return () => (entry: LogEntry) => {
    const { message, timestamp: _ts, logger: _name, ...extra } = entry.log;
    const fields = { ns: entry.namespace, ...extra };
    const detail = typeof extra.error === 'string' ? extra.error : '';
    if (entry.level > logLevel.WARN || isSelfHealing(message) || isSelfHealing(detail)) {
      if (child.isLevelEnabled('debug')) child.debug(fields, message);
      return;
    }
    const now = Date.now();
    const key = `${entry.namespace}|${message}`;
    const seen = lastLogged.get(key);
    if (seen && now - seen.at < REPEAT_MS) {
      seen.suppressed++;
      return;
    }
    if (lastLogged.size > 1000) lastLogged.clear(); // messages embed hosts and ids: keep the map bounded
    lastLogged.set(key, { at: now, suppressed: 0 });
    const repeated = seen?.suppressed ? { repeated: seen.suppressed } : {};
    if (entry.level === logLevel.ERROR) child.error({ ...fields, ...repeated }, message);
    else child.warn({ ...fields, ...repeated }, message);
  };
}
