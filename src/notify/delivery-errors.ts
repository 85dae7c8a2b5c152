/**
 * Why a webhook delivery failed, in one table. `retry` decides what the
 * notifier does with the event: `true` — try it again after a backoff, until
 * HEXFLEET_WEBHOOK_MAX_ATTEMPTS; `false` — dead-letter it at once (another
 * attempt would fail the same way). The code opens the `hexfleet-error`
 * header of every dead letter, so operators can grep the DLQ by it.
 */
export const DeliveryFailures = {
  undecodable: { retry: false, message: 'the record is not an order event this notifier can read' },
  rejected: { retry: false, message: 'the receiver refused the event (HTTP 3xx or 4xx other than 408 and 429); it is not sent again' },
  throttled: { retry: true, message: 'the receiver asked to be called later (HTTP 408 or 429)' },
  server_error: { retry: true, message: 'the receiver failed (HTTP 5xx)' },
  timeout: { retry: true, message: 'the receiver did not answer within HEXFLEET_WEBHOOK_TIMEOUT_MS' },
  connection: { retry: true, message: 'the receiver could not be reached (connection refused, reset or DNS)' },
  attempts_exhausted: { retry: false, message: 'every one of HEXFLEET_WEBHOOK_MAX_ATTEMPTS attempts failed' },
  stopping: { retry: true, message: 'the notifier is stopping: the batch stays uncommitted for the next member of the group' },
} as const satisfies Record<string, { retry: boolean; message: string }>;

export type DeliveryFailure = keyof typeof DeliveryFailures;

/** A failed delivery attempt (or a record that cannot be delivered at all). */
export class DeliveryError extends Error {
  readonly code: DeliveryFailure;
  /** From a Retry-After header of a 408, 429 or 503: the receiver's own wish, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(code: DeliveryFailure, message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DeliveryError';
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
  }

  get retry(): boolean {
    return DeliveryFailures[this.code].retry;
  }
}

/** The one way to make a DeliveryError: `<code>: <detail>` (or the table's message when there is no detail). */
export function deliveryError(code: DeliveryFailure, detail?: string, options?: { cause?: unknown; retryAfterMs?: number }): DeliveryError {
  return new DeliveryError(code, `${code}: ${detail ?? DeliveryFailures[code].message}`, options);
}
