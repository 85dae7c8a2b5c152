/**
 * Every error code and close code hexfleet puts on the wire, in one table.
 *
 * `retry` tells a client what to do: `true` — send the same thing again later
 * (with backoff); `false` — sending it again will fail the same way, fix it.
 * The tables of docs/error-codes.md are generated from this file; codes are stable API.
 */
export const ErrorCodes = {
  // Ping rejections: sent with the seq of the rejected ping.
  invalid_ping: { retry: false, http: 400, message: 'the ping is not an object with numeric seq, lat, lng and ts' },
  invalid_seq: { retry: false, http: 400, message: 'seq must be a non-negative safe integer' },
  invalid_lat: { retry: false, http: 400, message: 'lat must be a finite number in [-90, 90]' },
  invalid_lng: { retry: false, http: 400, message: 'lng must be a finite number in [-180, 180]' },
  invalid_ts: { retry: false, http: 400, message: 'ts must be a finite number of milliseconds since the epoch' },
  ts_in_future: { retry: false, http: 400, message: 'ts is further in the future than the server allows; check the device clock' },
  ts_too_old: { retry: false, http: 400, message: 'ts is older than the server keeps' },
  invalid_field: { retry: false, http: 400, message: 'acc, spd and hdg must be finite numbers (acc, spd >= 0; hdg in [0, 360])' },
  invalid_status: { retry: false, http: 400, message: 'status must be available, busy or offline' },
  value_out_of_range: { retry: false, http: 400, message: 'acc and spd must be below 131072 (the store keeps them as 32-bit floats to 0.01); the ping was not stored' },
  rate_limited: { retry: true, http: 429, message: 'this connection sends more pings per second than allowed; resend later' },
  // One reply for a frame with more than one rejected ping: counts by code, the first ones by seq, retryFromSeq for the rate-limited.
  pings_rejected: { retry: false, http: 400, message: 'several pings of the frame were rejected: see counts, rejected (the first ones by seq) and retryFromSeq (resend from there)' },

  // Frame rejections: sent without seq.
  malformed_frame: { retry: false, http: 400, message: 'the frame is not valid JSON (text) or msgpack (binary)' },
  invalid_frame: { retry: false, http: 400, message: 'the frame is not an object with a string type' },
  unknown_type: { retry: false, http: 400, message: 'the frame type is not one this endpoint accepts' },
  invalid_batch: { retry: false, http: 400, message: 'pings must be a non-empty array' },
  batch_too_large: { retry: false, http: 400, message: 'the batch has more pings than the server accepts in one frame' },
  too_many_frames: { retry: true, http: 429, message: 'this connection sends more frames per second than HEXFLEET_FRAME_RATE_PER_SEC allows; the frame was dropped (each one counts against HEXFLEET_BAD_FRAME_LIMIT)' },
  id_too_long: { retry: false, http: 400, message: 'an id is longer than the limit for its kind (see the id limits in docs/security.md, Abuse limits); nothing was looked up' },

  // Batch failures: sent with the highest seq of the batch; nothing in it was acked.
  store_unavailable: { retry: true, http: 503, message: 'the location store did not confirm the write; the batch was not acked (it may or may not be stored), resend it' },
  overloaded: { retry: true, http: 503, message: 'the gateway has too many pings waiting for the store; resend later' },
  log_unavailable: { retry: true, http: 503, message: 'the event log did not confirm the write; the batch was not acked (it may or may not be stored), resend it' },
  shutting_down: { retry: true, http: 503, message: 'the gateway is shutting down; reconnect (to another gateway) and resend' },

  // Dispatch: match API and offer replies.
  invalid_body: { retry: false, http: 400, message: 'the request body is not the JSON the endpoint expects' },
  no_driver: { retry: true, http: 404, message: 'no suitable driver within the radius right now; try again later or widen the radius' },
  match_in_flight: { retry: true, http: 409, message: 'this order is being matched right now; ask again in a moment' },
  idempotency_conflict: { retry: false, http: 422, message: 'this order id or Idempotency-Key was used with a different request body' },
  order_closed: { retry: false, http: 409, message: 'the order is no longer open for this change' },
  offer_expired: { retry: false, http: 409, message: 'the offer expired or was withdrawn; it changed nothing' },
  not_offered: { retry: false, http: 409, message: 'this order was not offered to you; it changed nothing' },
  not_home_region: { retry: false, http: 409, message: 'another region is home to this order or driver (the message names it) and alone may match, offer, accept, cancel or complete it; send the request there. Here it is read-only' },

  // Live tracking (/v1/track): sent with the orderId or bbox of the refused frame.
  not_allowed: { retry: false, http: 403, message: 'the token does not cover this order (its orders claim, or the tracker token\'s order); nothing about it is sent' },
  invalid_bbox: { retry: false, http: 400, message: 'bbox must be [minLng, minLat, maxLng, maxLat] with lng in [-180, 180], lat in [-90, 90] and minLat <= maxLat (minLng > maxLng crosses the antimeridian)' },
  too_many_subscriptions: { retry: false, http: 429, message: 'this connection already holds HEXFLEET_TRACK_MAX_SUBSCRIPTIONS subscriptions; unsubscribe first' },

  // HTTP API.
  auth_cooloff: { retry: true, http: 429, message: 'too many failed authentications came from this address; it is refused for HEXFLEET_AUTH_COOLOFF_MS (see Retry-After), whatever the token' },
  unauthorized: { retry: false, http: 401, message: 'a valid bearer token is required' },
  forbidden: { retry: false, http: 403, message: 'the token role may not use this endpoint' },
  unknown_key: { retry: true, http: 401, message: 'the token names a key (kid) this gateway does not hold yet; it is reading the key set again: retry in a few seconds' },
  token_revoked: { retry: false, http: 401, message: 'the token (or every token of its subject) was revoked; get a new one' },
  mfa_required: { retry: false, http: 403, message: 'this action needs a token that shows a second factor (amr) used recently enough (auth_time); sign in again with it' },
  token_mismatch: { retry: false, http: 403, message: 'an auth frame must carry a token of the same subject and role as the connection; reconnect to change identity' },
  invalid_parameter: { retry: false, http: 400, message: 'a query parameter is missing or out of range' },
  too_many_requests: { retry: true, http: 429, message: 'this token spent its request budget (HEXFLEET_HTTP_SERVICE_RATE_PER_SEC or HEXFLEET_HTTP_USER_RATE_PER_SEC, weighted by cost); retry after Retry-After seconds' },
  bad_request: { retry: false, http: 400, message: 'the HTTP request is malformed (e.g. conflicting Content-Length headers); the connection is closed' },
  not_found: { retry: false, http: 404, message: 'no such resource' },
  internal: { retry: true, http: 500, message: 'an unexpected error; it was logged' },
} as const satisfies Record<string, { retry: boolean; http: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** A failure that carries a wire code; every layer raises these, never bare strings. */
export class HexfleetError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ErrorCodes[code].message, options);
    this.name = 'HexfleetError';
    this.code = code;
  }
  get retry(): boolean {
    return ErrorCodes[this.code].retry;
  }
}

/** WebSocket close codes hexfleet sends (4000–4999 is the application range). */
export const CloseCodes = {
  going_away: { code: 1001, retry: true, reason: 'server shutting down; reconnect' },
  frame_too_large: { code: 1006, retry: false, reason: 'frame larger than HEXFLEET_MAX_FRAME_BYTES: uWebSockets.js drops the connection without a close frame, so the client sees 1006' },
  protocol_violation: { code: 4400, retry: false, reason: 'too many malformed frames' },
  token_expired: { code: 4401, retry: true, reason: 'the token expired (closed at its exp, whether the client sends or not); reconnect with a fresh one, or send an auth frame with one before exp' },
  token_revoked: { code: 4403, retry: false, reason: 'the token (or its subject) was revoked by an operator; reconnecting with the same token is refused' },
  slow_consumer: { code: 4008, retry: true, reason: 'the client does not read its replies (tracking: its unsent bytes stayed above HEXFLEET_TRACK_BUFFER_BYTES for HEXFLEET_TRACK_SLOW_CONSUMER_MS); reconnect' },
} as const;

/** The most specific message of an error: its cause's, when it wraps one (for logs and operators, not clients). */
export function detailOf(err: unknown): string {
  if (err instanceof Error && err.cause instanceof Error) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
