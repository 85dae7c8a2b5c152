import type { EventLog, LogBatch, PartitionOffsets, ReadFrom } from '../eventlog/event-log.js';
import { HexfleetError } from '../protocol/error-codes.js';

/**
 * Tries of a read that fails before its first batch, 1 s apart: a broker
 * just started answers a new reader with "coordinator loading" for a few
 * seconds, and a cluster in a leader election for about as long.
 */
const ATTEMPTS = 5;
const RETRY_DELAY_MS = 1000;

/**
 * `EventLog.read`, tried again while it fails with `log_unavailable` before
 * handing out any record (the contract leaves a failed read to its caller to
 * redo). A read that fails after its first batch is not retried here: the
 * records already handled would be handled again from the start, which is
 * safe for replay (idempotent) but not cheap, so the caller re-runs it.
 */
export async function readLog(
  log: EventLog,
  topic: string,
  from: ReadFrom,
  toTime: number,
  handler: (batch: LogBatch) => Promise<void>,
  retry: { attempts: number; delayMs: number } = { attempts: ATTEMPTS, delayMs: RETRY_DELAY_MS },
): Promise<PartitionOffsets> {
  for (let attempt = 1; ; attempt++) {
    let started = false;
    try {
      return await log.read(topic, from, toTime, (batch) => {
        started = true;
        return handler(batch);
      });
    } catch (err) {
      const retryable = err instanceof HexfleetError && err.code === 'log_unavailable';
      if (started || !retryable || attempt >= retry.attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, retry.delayMs));
    }
  }
}
