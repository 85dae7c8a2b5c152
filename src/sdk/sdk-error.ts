import { CloseCodes, ErrorCodes } from '../protocol/error-codes.js';

/**
 * An error the SDK reports on its `error` event: a server error frame (its
 * wire `code`), a close code that ends the client, or a local failure
 * (`token_unavailable`, `bad_frame`, `tls_failed`: the gateway's certificate
 * is not trusted; the client keeps retrying).
 */
export class SdkError extends Error {
  readonly code: string;
  /** Whether sending the same thing again can succeed (from the server's error table). */
  readonly retry: boolean;
  readonly seq: number | undefined;
  readonly orderId: string | undefined;

  constructor(code: string, message: string, extra: { retry?: boolean; seq?: number; orderId?: string; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'SdkError';
    this.code = code;
    this.retry = extra.retry ?? isRetryable(code);
    this.seq = extra.seq;
    this.orderId = extra.orderId;
  }
}

/** The retry advice of a wire error code; an unknown code is not retried (the codes are stable API). */
export function isRetryable(code: string): boolean {
  return Object.hasOwn(ErrorCodes, code) ? ErrorCodes[code as keyof typeof ErrorCodes].retry : false;
}

/** The batch failures: nothing of the batch was acked, the whole batch is to be resent. */
export const BATCH_ERROR_CODES: ReadonlySet<string> = new Set(['store_unavailable', 'overloaded', 'shutting_down']);

const BY_CLOSE_CODE = new Map<number, { name: string; retry: boolean }>(
  Object.entries(CloseCodes).map(([name, c]) => [c.code, { name, retry: c.retry }]),
);

/** What a close code means for a client; see `closePolicy`. */
export interface ClosePolicy {
  name: string;
  reconnect: boolean;
  /** A new token is needed before reconnecting. */
  refreshToken: boolean;
}

/**
 * Reconnect or not, from the close-code table in src/protocol/error-codes.ts.
 *
 * 1006 is the exception: the table lists it as `frame_too_large` (not
 * retryable), but a browser or `ws` reports the very same 1006 for a gateway
 * that crashed, a dropped network or a failed connect, which the SDK must
 * survive. The SDK reconnects on 1006 and guards against the oversized frame
 * itself by halving its batch size after an abnormal close with a batch in
 * flight. 1009 (message too big) is handled the same way. Unknown codes
 * (1000, 1011, …) are reconnected with backoff.
 */
export function closePolicy(code: number): ClosePolicy {
  if (code === 1006) return { name: 'abnormal_closure', reconnect: true, refreshToken: false };
  if (code === 1009) return { name: 'message_too_big', reconnect: true, refreshToken: false };
  const known = BY_CLOSE_CODE.get(code);
  if (known) return { name: known.name, reconnect: known.retry, refreshToken: known.name === 'token_expired' };
  return { name: `close_${code}`, reconnect: true, refreshToken: false };
}
