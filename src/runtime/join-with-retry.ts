import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { detailOf } from '../protocol/error-codes.js';

/**
 * Runs `join` (a consumer joining its group) until it succeeds or `signal`
 * aborts, waiting `retryMs` after each failure, which is logged as
 * `<what> did not start; trying again in <retryMs> ms` with `fields`: a
 * Kafka that is down delays the consumer, not the gateway. Resolves once
 * joined, or once aborted; never rejects.
 */
export async function joinWithRetry(
  join: () => Promise<void>,
  o: { signal: AbortSignal; retryMs: number; log: Logger; what: string; fields?: Record<string, unknown> },
): Promise<void> {
  while (!o.signal.aborted) {
    try {
      await join();
      return;
    } catch (err) {
      if (o.signal.aborted) return;
      o.log.error({ ...o.fields, err: detailOf(err) }, `${o.what} did not start; trying again in ${o.retryMs} ms`);
      await sleep(o.retryMs, undefined, { signal: o.signal }).catch(() => {});
    }
  }
}
