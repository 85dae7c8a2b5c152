import { deliveryError, type DeliveryError } from './delivery-errors.js';
import { signWebhook, WEBHOOK_HEADERS } from './webhook-signature.js';

export interface WebhookTarget {
  url: string;
  secret: string;
  /** One attempt, from connecting to the last byte of the answer. */
  timeoutMs: number;
}

/** The outcome of one attempt the receiver answered: delivered (2xx), or refused for good. */
export type AttemptOutcome = { ok: true; status: number } | { ok: false; error: DeliveryError };

/** Enough of a refusal's body to say why in a dead letter; the rest is not read. */
const REASON_BYTES = 300;

/**
 * One webhook attempt: signs the body, POSTs it with node's fetch (keep-alive
 * connections are reused between attempts), and classifies the answer.
 * Resolves with `ok: true` on 2xx and `ok: false` for a refusal that must not
 * be retried (3xx, 4xx other than 408/429); throws a retryable DeliveryError
 * for 408/429/5xx, a timeout or a connection failure — throwing is what the
 * circuit breaker counts as the receiver failing — and `stopping` when
 * `signal` aborted it.
 */
export class WebhookClient {
  constructor(private readonly target: WebhookTarget) {}

  async post(eventId: string, body: string, attempt: number, signal: AbortSignal): Promise<AttemptOutcome> {
    const timestampS = Math.floor(Date.now() / 1000);
    const timeout = AbortSignal.timeout(this.target.timeoutMs);
    const both = AbortSignal.any([timeout, signal]);
    const failed = (err: unknown): DeliveryError => {
      if (signal.aborted) return deliveryError('stopping');
      if (timeout.aborted) return deliveryError('timeout', `no answer within ${this.target.timeoutMs} ms`);
      return deliveryError('connection', connectionDetail(err), { cause: err });
    };
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.target.url, {
        method: 'POST',
        body,
        signal: both,
        // A redirect is a misconfigured URL: following it would send signed events to wherever it points.
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'hexfleet-webhook/1',
          [WEBHOOK_HEADERS.eventId]: eventId,
          [WEBHOOK_HEADERS.timestamp]: String(timestampS),
          [WEBHOOK_HEADERS.signature]: signWebhook(this.target.secret, timestampS, body),
          [WEBHOOK_HEADERS.attempt]: String(attempt),
        },
      });
      text = await readPrefix(res, REASON_BYTES);
    } catch (err) {
      throw failed(err);
    }
    const status = res.status;
    if (status >= 200 && status < 300) return { ok: true, status };
    const answer = `HTTP ${status}${text ? `: ${text.replace(/\s+/g, ' ').trim()}` : ''}`;
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    const extra = retryAfterMs === undefined ? {} : { retryAfterMs };
    if (status === 408 || status === 429) throw deliveryError('throttled', answer, extra);
    if (status >= 500) throw deliveryError('server_error', answer, extra);
    return { ok: false, error: deliveryError('rejected', `${answer} (not retried)`) };
  }
}

/** The first `max` bytes of the answer as text; the rest is discarded (the connection is closed rather than drained). */
async function readPrefix(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= max) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function connectionDetail(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

/** Retry-After in seconds (dates are not worth the parsing: receivers send seconds). The notifier caps it at HEXFLEET_WEBHOOK_BACKOFF_MAX_MS. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d{1,7}$/.test(value.trim())) return undefined;
  return Number(value) * 1000;
}
