import { createHmac, timingSafeEqual } from 'node:crypto';

/** The headers of every webhook request (lower case, as node:http hands them to a receiver). */
export const WEBHOOK_HEADERS = {
  /** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with HEXFLEET_WEBHOOK_SECRET>`. */
  signature: 'x-hexfleet-signature',
  /** Unix seconds when this attempt was signed; covered by the signature, so a captured request cannot be replayed later with a new one. */
  timestamp: 'x-hexfleet-timestamp',
  /** `<orderId>:<version>`: the same on every attempt and every redrive of one event — the receiver's deduplication key. */
  eventId: 'x-hexfleet-event-id',
  /** 1 for the first attempt of this delivery run (informational: a redriven or re-consumed event starts again at 1). */
  attempt: 'x-hexfleet-attempt',
} as const;

/** How far a signed timestamp may be from the receiver's clock before `verifyWebhookSignature` refuses it. */
export const DEFAULT_TOLERANCE_S = 300;

/** `sha256=<hex>` over `<timestamp>.<body>`: what the notifier sends and a receiver recomputes. */
export function signWebhook(secret: string, timestampS: number, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestampS}.`).update(body).digest('hex');
}

/**
 * The receiver's check: the signature matches the raw body and timestamp
 * (compared in constant time), and the timestamp is within `toleranceS` of
 * `nowS`. Verify the raw bytes as received, before parsing the JSON.
 */
export function verifyWebhookSignature(
  secret: string,
  body: string | Buffer,
  headers: { signature: string | undefined; timestamp: string | undefined },
  nowS: number = Math.floor(Date.now() / 1000),
  toleranceS: number = DEFAULT_TOLERANCE_S,
): boolean {
  if (!headers.signature || !headers.timestamp || !/^\d{1,12}$/.test(headers.timestamp)) return false;
  const ts = Number(headers.timestamp);
  if (Math.abs(nowS - ts) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body));
  const given = Buffer.from(headers.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
