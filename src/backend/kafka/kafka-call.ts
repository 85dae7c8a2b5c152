import { HexfleetError } from '../../protocol/error-codes.js';

/**
 * `work`, failing with `log_unavailable` when it rejects or has not settled
 * within `timeoutMs`. kafkajs calls cannot be cancelled: one that times out
 * goes on in the background until its own retries end, and its rejection
 * then is swallowed here (the caller was already told).
 */
export async function kafkaCall<T>(what: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HexfleetError('log_unavailable', `Kafka ${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  work.catch(() => {}); // settles after the timeout: not an unhandled rejection
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    throw asLogUnavailable(what, err);
  } finally {
    clearTimeout(timer);
  }
}

/** Any failure of the log as `log_unavailable`, keeping the original as its cause. */
export function asLogUnavailable(what: string, err: unknown): HexfleetError {
  if (err instanceof HexfleetError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new HexfleetError('log_unavailable', `Kafka ${what} failed: ${detail}`, { cause: err });
}
