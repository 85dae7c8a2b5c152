import { HexfleetError } from '../protocol/error-codes.js';
import type { EventLog, LogRecord } from './event-log.js';
import type { LogMetrics } from './log-metrics.js';

export interface LogGuardOptions {
  /** Consecutive failed appends that open the breaker. */
  failuresToOpen: number;
  /** How long appends fail fast before one is let through as a probe. */
  openMs: number;
  /** Called once per change of state (not per append): the log is up or down. */
  onStateChange?: (up: boolean, cause?: unknown) => void;
}

/**
 * The appends of any EventLog, measured and guarded by a circuit breaker:
 * after `failuresToOpen` consecutive failures, appends fail at once with
 * `log_unavailable` for `openMs`, then one probe goes through and its outcome
 * closes or re-opens the breaker. While the log is down, ingest answers
 * every batch at once (retryable) instead of holding each one for the
 * append timeout and filling its queue. Reads and consumers pass through.
 */
export function guardEventLog(inner: EventLog, metrics: LogMetrics, options: LogGuardOptions): EventLog {
  let failures = 0;
  let openUntil = 0;
  let probing = false;
  let up = true;

  const setUp = (next: boolean, cause?: unknown): void => {
    if (next === up) return;
    up = next;
    metrics.breakerOpen.set(next ? 0 : 1);
    options.onStateChange?.(next, cause);
  };

  const append = async (topic: string, records: readonly LogRecord[]): Promise<void> => {
    const now = Date.now();
    if (openUntil > now || (openUntil > 0 && probing)) {
      throw new HexfleetError('log_unavailable', `the event log failed ${failures} appends in a row; retrying it in ${Math.max(0, openUntil - now)} ms`);
    }
    if (openUntil > 0) probing = true;
    const started = performance.now();
    try {
      await inner.append(topic, records);
      metrics.appendLatency.observe({ topic }, (performance.now() - started) / 1000);
      metrics.appendedRecords.inc({ topic }, records.length);
      failures = 0;
      openUntil = 0;
      setUp(true);
    } catch (err) {
      metrics.errors.inc({ op: 'append' });
      if (++failures >= options.failuresToOpen) {
        openUntil = Date.now() + options.openMs;
        setUp(false, err);
      }
      throw err instanceof HexfleetError ? err : new HexfleetError('log_unavailable', undefined, { cause: err });
    } finally {
      probing = false;
    }
  };

  return {
    append,
    consume: (o) => inner.consume(o),
    read: (topic, from, toTime, handler) => inner.read(topic, from, toTime, handler),
    ensureTopics: (t) => inner.ensureTopics(t),
    endOffsets: (t) => inner.endOffsets(t),
    groupOffsets: (g, t) => inner.groupOffsets(g, t),
    check: () => inner.check(),
    close: () => inner.close(),
  };
}
