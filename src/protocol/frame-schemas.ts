import { ID_MAX_LENGTH } from '../domain/ids.js';
import { ErrorCodes } from './error-codes.js';
import { enumOf, type Fields, type JsonSchema, nullable, numberIn, objectSchema, opt } from './json-schema.js';
import type {
  AckFrame, AreaPositionFrame, AreaSubscribedFrame, AreaSubscriptionFrame, AssignmentFrame, AuthFrame, AuthOkFrame, ErrorFrame,
  OfferFrame, OfferReplyFrame, OfferResultFrame, OrderPositionFrame, PingsFrame, PingsRejectedFrame, ReplicatedOrigin, StatusFrame, SubscriptionFrame,
  TrackingErrorFrame, UnsubscribedFrame, WirePing, WirePoint,
} from './wire-frames.js';

/**
 * JSON Schemas of every frame in wire-frames.ts and of the values they share,
 * each tied to its TypeScript type by `objectSchema` (a field added to a type
 * does not typecheck until it is described here). AsyncAPI (the two socket
 * protocols) and OpenAPI (the points of the match API, the error body) are
 * built from these; the tests validate the frames a running gateway sends and
 * accepts against them.
 */

/** Every id a client sends or the gateway names (domain/ids.ts): printable ASCII, no spaces, 1 to 128 characters. */
export const ID_SCHEMA: JsonSchema = {
  type: 'string', minLength: 1, maxLength: ID_MAX_LENGTH, pattern: '^[!-~]+$',
  description: `printable ASCII without spaces, 1 to ${ID_MAX_LENGTH} characters (longer: id_too_long)`,
};

/** Every wire error code (src/protocol/error-codes.ts). */
export const ERROR_CODE_SCHEMA: JsonSchema = enumOf(Object.keys(ErrorCodes), 'a stable code of src/protocol/error-codes.ts (README: error codes)');

const MS = (what: string): JsonSchema => ({ type: 'number', description: `${what}, ms since the epoch` });
const LAT = numberIn(-90, 90, 'degrees');
const LNG = numberIn(-180, 180, 'degrees');
const NON_NEGATIVE_INT: JsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const STATUS = enumOf(['available', 'busy', 'offline']);
/** acc and spd are kept as 32-bit floats to 0.01 (value_out_of_range at or above this). */
const STORED_MAX = 131072;

export const POINT_SCHEMA = objectSchema<WirePoint>({ lat: LAT, lng: LNG });

/** `[minLng, minLat, maxLng, maxLat]` (minLng > maxLng crosses the antimeridian). */
export const BBOX_SCHEMA: JsonSchema = {
  // No per-item bounds (prefixItems): AsyncAPI's schema format is draft-07's, which has none; the description and invalid_bbox say them.
  type: 'array', minItems: 4, maxItems: 4,
  items: numberIn(-180, 180),
  description: '[minLng, minLat, maxLng, maxLat], GeoJSON order; minLat <= maxLat; minLng > maxLng crosses the antimeridian',
};

export const PING_SCHEMA = objectSchema<WirePing>({
  seq: { ...NON_NEGATIVE_INT, description: 'per driver, strictly increasing; each seq is applied at most once' },
  lat: LAT,
  lng: LNG,
  ts: { type: 'number', description: 'fix time, ms since the epoch (not further ahead than HEXFLEET_MAX_FUTURE_MS, not older than the server keeps)' },
  acc: opt({ type: 'number', minimum: 0, exclusiveMaximum: STORED_MAX, description: 'accuracy, m' }),
  spd: opt({ type: 'number', minimum: 0, exclusiveMaximum: STORED_MAX, description: 'speed, m/s' }),
  hdg: opt(numberIn(0, 360, 'heading, degrees')),
  status: opt(STATUS),
});

/** What a position another region accepted carries (ReplicatedOrigin), on position frames and the last-known and nearby answers; absent on local ones. */
export const REPLICATED_ORIGIN_FIELDS: Fields<Partial<ReplicatedOrigin>> = {
  region: opt({ type: 'string', description: 'only on a position another region accepted (cross-region replication): that region' }),
  replicationAgeMs: opt({ type: 'number', description: 'with region: ms from its acceptance there to its application here (clock skew between regions adds to it)' }),
};

const ERROR_FIELDS = { type: { const: 'error' }, code: ERROR_CODE_SCHEMA, message: { type: 'string' } } as const;
/** An error names the rejected ping by its seq as sent: any number (invalid_seq's is the one that was wrong: -1, 1.5). */
const ECHOED_SEQ = opt({ type: 'number', description: 'the seq of the rejected ping as sent, or the highest seq of a failed batch' });

// ── /v1/driver ──────────────────────────────────────────────────────────────

/** Client → server frames of /v1/driver, by type. */
export const DRIVER_CLIENT_FRAMES = {
  pings: objectSchema<PingsFrame>({ type: { const: 'pings' }, pings: { type: 'array', minItems: 1, items: PING_SCHEMA, description: 'at most HEXFLEET_MAX_BATCH pings (batch_too_large)' } }),
  offer_reply: objectSchema<OfferReplyFrame>({ type: { const: 'offer_reply' }, orderId: ID_SCHEMA, accept: { type: 'boolean' } }),
  auth: objectSchema<AuthFrame>({ type: { const: 'auth' }, token: { type: 'string', description: 'a fresh JWT of the same subject and role' } }),
} as const satisfies Record<string, JsonSchema>;

const errorFrame = objectSchema<ErrorFrame>({ ...ERROR_FIELDS, seq: ECHOED_SEQ, orderId: opt(ID_SCHEMA) }, { closed: true });

/** Server → client frames of /v1/driver, by name (an `error` frame is either a plain error or `pings_rejected`). */
export const DRIVER_SERVER_FRAMES = {
  ack: objectSchema<AckFrame>({ type: { const: 'ack' }, seq: NON_NEGATIVE_INT }, { closed: true }),
  error: errorFrame,
  pings_rejected: objectSchema<PingsRejectedFrame>({
    ...ERROR_FIELDS,
    code: { const: 'pings_rejected' },
    seq: ECHOED_SEQ,
    orderId: opt(ID_SCHEMA),
    counts: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 }, description: 'rejected pings by code' },
    rejected: { type: 'array', maxItems: 10, items: objectSchema<{ seq: number; code: string }>({ seq: { type: 'number', description: 'as sent' }, code: ERROR_CODE_SCHEMA }, { closed: true }) },
    retryFromSeq: opt(NON_NEGATIVE_INT),
    accepted: NON_NEGATIVE_INT,
  }, { closed: true }),
  offer: objectSchema<OfferFrame>({ type: { const: 'offer' }, orderId: ID_SCHEMA, pickup: POINT_SCHEMA, dropoff: opt(POINT_SCHEMA), expiresAt: MS('answer before') }, { closed: true }),
  offer_result: objectSchema<OfferResultFrame>({ type: { const: 'offer_result' }, orderId: ID_SCHEMA, state: enumOf(['accepted', 'rejected']) }, { closed: true }),
  auth_ok: objectSchema<AuthOkFrame>({ type: { const: 'auth_ok' }, expiresAt: MS('the socket lives until') }, { closed: true }),
} as const satisfies Record<string, JsonSchema>;

// ── /v1/track ───────────────────────────────────────────────────────────────

/** Client → server frames of /v1/track, by type. */
export const TRACKING_CLIENT_FRAMES = {
  subscribe: objectSchema<SubscriptionFrame>({ type: { const: 'subscribe' }, orderId: ID_SCHEMA }),
  unsubscribe: objectSchema<SubscriptionFrame>({ type: { const: 'unsubscribe' }, orderId: ID_SCHEMA }),
  subscribe_area: objectSchema<AreaSubscriptionFrame>({ type: { const: 'subscribe_area' }, bbox: BBOX_SCHEMA }),
  unsubscribe_area: objectSchema<AreaSubscriptionFrame>({ type: { const: 'unsubscribe_area' }, bbox: BBOX_SCHEMA }),
  auth: DRIVER_CLIENT_FRAMES.auth,
} as const satisfies Record<string, JsonSchema>;

const POSITION_FIELDS = {
  type: { const: 'position' },
  driverId: ID_SCHEMA,
  lat: LAT,
  lng: LNG,
  ts: MS('fix time'),
  ageMs: { type: 'number', minimum: 0, description: 'now - ts when the frame was sent' },
  hdg: nullable(numberIn(0, 360)),
  spd: nullable({ type: 'number', minimum: 0 }),
  ...REPLICATED_ORIGIN_FIELDS,
} as const;

/** Server → client frames of /v1/track, by name. */
export const TRACKING_SERVER_FRAMES = {
  order_position: objectSchema<OrderPositionFrame>({ ...POSITION_FIELDS, orderId: ID_SCHEMA }, { closed: true, description: 'the courier of a watched order moved' }),
  area_position: objectSchema<AreaPositionFrame>({ ...POSITION_FIELDS, bbox: BBOX_SCHEMA }, { closed: true, description: 'a driver inside a watched box moved' }),
  status: objectSchema<StatusFrame>({
    type: { const: 'status' }, orderId: ID_SCHEMA, state: enumOf(['waiting', 'live', 'degraded', 'lost']),
    lastTs: nullable(MS('fix time of the last known position')), ageMs: nullable({ type: 'number', minimum: 0 }),
  }, { closed: true }),
  assignment: objectSchema<AssignmentFrame>({
    type: { const: 'assignment' }, orderId: ID_SCHEMA,
    state: enumOf(['searching', 'offered', 'accepted', 'completed', 'failed', 'cancelled']),
    event: { type: 'string', description: 'offered, accepted, rejected, expired, cancelled, failed, completed, search_resumed, driver_silent' },
    attempt: NON_NEGATIVE_INT, at: MS('committed at'), driverId: opt(ID_SCHEMA), reason: opt({ type: 'string' }),
  }, { closed: true }),
  unsubscribed: objectSchema<UnsubscribedFrame>({ type: { const: 'unsubscribed' }, orderId: ID_SCHEMA }, { closed: true }),
  area_subscribed: objectSchema<AreaSubscribedFrame>({ type: enumOf(['area_subscribed', 'area_unsubscribed']), bbox: BBOX_SCHEMA }, { closed: true }),
  error: objectSchema<TrackingErrorFrame>({ ...ERROR_FIELDS, seq: ECHOED_SEQ, orderId: opt(ID_SCHEMA), bbox: opt(BBOX_SCHEMA) }, { closed: true }),
  auth_ok: DRIVER_SERVER_FRAMES.auth_ok,
} as const satisfies Record<string, JsonSchema>;
