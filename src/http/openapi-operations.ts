import type { Action } from '../auth/rbac-table.js';
import type { Config } from '../config/config-schema.js';
import { VEHICLE_TYPES } from '../domain/vehicle.js';
import type { Revocation } from '../auth/revocation-store.js';
import type { DriverView, NearbyDriver } from '../geo/driver-store.js';
import type { HistoryEntry, OrderDoc, OrderRequest } from '../orders/order.js';
import type { ErrorCode } from '../protocol/error-codes.js';
import { ID_SCHEMA, POINT_SCHEMA, REPLICATED_ORIGIN_FIELDS } from '../protocol/frame-schemas.js';
import { enumOf, type Fields, type JsonSchema, numberIn, objectSchema, opt } from '../protocol/json-schema.js';
import type { RegionEntry, RegionLoad, RegionsAnswer } from '../protocol/regions-answer.js';

/**
 * Every HTTP route of the public port, described: the table openapi-document.ts
 * turns into OpenAPI 3.1. Each entry names the RBAC_TABLE action that guards
 * it, its parameters and body, its answers, and the error codes it can answer
 * with (their statuses come from error-codes.ts). The schemas state what the
 * route's own validator accepts (match-request.ts, driver-routes.ts'
 * parseNearby, admin-routes.ts' revocationOf, strict-number.ts), with the
 * running gateway's limits; test/http/openapi.test.ts holds them to it and
 * to every registered route.
 */

/** An `HTTP` action of RBAC_TABLE, or `public` for a route that reads no token (`GET /healthz`). */
export type OperationAction = Action | 'public';

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  description: string;
  schema: JsonSchema;
}

export interface Operation {
  method: 'get' | 'post';
  /** OpenAPI path template (`{id}`). */
  path: string;
  action: OperationAction;
  summary: string;
  parameters?: Parameter[];
  body?: { schema: JsonSchema; description: string };
  /** Answers other than errors, by status: a JSON schema, or the media types of a non-JSON body. */
  answers: Record<number, { description: string; schema?: JsonSchema; text?: string[] }>;
  /** Error codes the route answers with (401/403 from the token check are added for every action but `public`). */
  errors: ErrorCode[];
}

const MS: JsonSchema = { type: 'number', description: 'ms since the epoch' };
const ANY_OBJECT: JsonSchema = { type: 'object' };
const STORED_STATUS = enumOf(['available', 'busy', 'offline', 'unknown']);
const STORED_VEHICLE = enumOf(['unknown', ...VEHICLE_TYPES]);

/** Errors of a route that reads an id from its path. */
const ID_PATH: ErrorCode[] = ['invalid_parameter', 'id_too_long'];
/** Errors of a route charged to its principal's request budget. */
const LIMITED: ErrorCode[] = ['too_many_requests'];
/** Errors of a route that reads or writes the store (Redis down or failing over: 503, retry). */
const STORE: ErrorCode[] = ['store_unavailable', 'internal'];
/** Errors of a route whose change is committed through the event log too (HEXFLEET_KAFKA_BROKERS). */
const LOGGED: ErrorCode[] = [...STORE, 'log_unavailable'];

const idParam = (what: string): Parameter => ({ name: 'id', in: 'path', required: true, description: `${what} (percent-encoded)`, schema: ID_SCHEMA });

const ORDER_STATE = enumOf(['searching', 'offered', 'accepted', 'completed', 'failed', 'cancelled']);

/** match-routes.ts' assignmentView: the order's fields an API answer shows (`reason` is the doc's failReason). */
type AssignmentView = Pick<OrderDoc, 'orderId' | 'state' | 'attempt' | 'driverId' | 'distanceM' | 'etaS' | 'etaSource' | 'offerExpiresAt'> & { reason?: string };
/** What match-routes.ts' assignmentView answers. */
const ASSIGNMENT_FIELDS: Fields<AssignmentView> = {
  orderId: ID_SCHEMA,
  state: ORDER_STATE,
  attempt: { type: 'integer', minimum: 0, description: 'offers made so far' },
  driverId: opt(ID_SCHEMA),
  distanceM: opt({ type: 'number', minimum: 0 }),
  etaS: opt({ type: 'number', minimum: 0 }),
  etaSource: opt(enumOf(['provider', 'fallback'])),
  offerExpiresAt: opt(MS),
  reason: opt({ type: 'string', description: 'why the order failed' }),
};
const ASSIGNMENT = objectSchema<AssignmentView>(ASSIGNMENT_FIELDS, { closed: true });

function matchRequestSchema(config: Config): JsonSchema {
  const fields = {
    orderId: ID_SCHEMA,
    pickup: POINT_SCHEMA,
    dropoff: opt(POINT_SCHEMA),
    radiusM: opt({ type: 'number', exclusiveMinimum: 0, maximum: config.nearbyMaxRadiusM, description: `search radius, m (default HEXFLEET_MATCH_RADIUS_M: ${config.matchRadiusM})` }),
    requirements: opt(objectSchema<{ vehicle?: unknown }>({ vehicle: opt({ type: 'array', items: enumOf(VEHICLE_TYPES), description: 'any of these vehicles; empty: any' }) })),
    mode: opt(enumOf(['immediate', 'batch'], 'immediate (default): offered now; batch: assigned with the next batch window')),
  };
  // OrderRequest's fields, with the defaults (radiusM, mode) optional on the wire.
  return objectSchema<{ [K in keyof OrderRequest]?: unknown } & { orderId: unknown; pickup: unknown }>(fields, {
    description: 'unknown fields are ignored (an older gateway accepts a newer client)',
  });
}

const HISTORY_ENTRY = objectSchema<HistoryEntry>({
  at: MS,
  event: enumOf(['offered', 'accepted', 'rejected', 'expired', 'cancelled', 'failed', 'completed', 'search_resumed', 'driver_silent']),
  attempt: { type: 'integer', minimum: 0 },
  driverId: opt(ID_SCHEMA),
  reason: opt({ type: 'string' }),
}, { closed: true });

const ORDER_REQUEST = objectSchema<OrderRequest>({
  orderId: ID_SCHEMA, pickup: POINT_SCHEMA, dropoff: opt(POINT_SCHEMA), radiusM: { type: 'number' },
  requirements: opt(objectSchema<{ vehicle?: unknown }>({ vehicle: opt({ type: 'array', items: enumOf(VEHICLE_TYPES) }) }, { closed: true })),
  mode: enumOf(['immediate', 'batch']),
}, { closed: true });

const ASSIGNMENT_DETAIL = objectSchema<AssignmentView & Pick<OrderDoc, 'request' | 'tried' | 'history' | 'createdAt' | 'updatedAt'>>({
  ...ASSIGNMENT_FIELDS,
  request: ORDER_REQUEST,
  tried: { type: 'array', items: ID_SCHEMA, description: 'drivers already offered this order' },
  history: { type: 'array', items: HISTORY_ENTRY },
  createdAt: MS,
  updatedAt: MS,
}, { closed: true });

const DRIVER_VIEW = objectSchema<DriverView>({
  driverId: ID_SCHEMA, lat: numberIn(-90, 90), lng: numberIn(-180, 180), ts: MS, seq: { type: 'integer', minimum: 0 },
  status: STORED_STATUS, vehicle: STORED_VEHICLE, cell: { type: 'string', description: 'H3 cell at HEXFLEET_H3_RESOLUTION' },
  acc: opt({ type: 'number', minimum: 0 }), spd: opt({ type: 'number', minimum: 0 }), hdg: opt(numberIn(0, 360)),
  indexed: { type: 'boolean', description: 'still in the cell index (false once silent past HEXFLEET_OFFLINE_MS)' },
  ageMs: { type: 'number', minimum: 0 }, stale: { type: 'boolean', description: 'ageMs > HEXFLEET_STALE_MS' },
  ...REPLICATED_ORIGIN_FIELDS,
}, { closed: true });

const NEARBY_DRIVER = objectSchema<NearbyDriver>({
  driverId: ID_SCHEMA, lat: numberIn(-90, 90), lng: numberIn(-180, 180), ts: MS, status: STORED_STATUS, vehicle: STORED_VEHICLE,
  distanceM: { type: 'number', minimum: 0 }, ageMs: { type: 'number', minimum: 0 }, stale: { type: 'boolean' },
  ...REPLICATED_ORIGIN_FIELDS,
}, { closed: true });

const REGIONS = objectSchema<RegionsAnswer>({
  region: { type: 'string' },
  regions: {
    type: 'array',
    items: objectSchema<RegionEntry>({
      name: { type: 'string' }, endpoints: { type: 'array', items: { type: 'string' } }, self: { type: 'boolean' },
      reachable: { type: 'boolean' }, ready: { type: 'boolean' }, probeAgeMs: { type: 'number', minimum: 0 },
      lastGoodAgeMs: opt({ type: 'number', minimum: 0 }), rttMs: opt({ type: 'number', minimum: 0 }), error: opt({ type: 'string' }),
      load: opt(objectSchema<RegionLoad>({ connectedDrivers: { type: 'integer', minimum: 0 }, pingsPerSec: { type: 'number', minimum: 0 } }, { closed: true })),
    }, { closed: true }),
  },
}, { closed: true });

/** health-routes.ts' readiness: the status alone without a token on the public port; the details with an admin token. */
const READINESS = objectSchema<{ status: unknown; store?: unknown; failing?: unknown; message?: unknown; regions?: unknown; replication?: unknown }>({
  status: enumOf(['ready', 'unready']),
  store: opt({ type: 'string', description: 'the engine (details only)' }),
  failing: opt({ type: 'array', items: { type: 'string' }, description: 'the dependencies that do not answer (details only)' }),
  message: opt({ type: 'string', description: 'why, as each failing dependency says (details only)' }),
  regions: opt({ type: 'object', additionalProperties: { type: 'boolean' }, description: 'reachability of the other regions (details only)' }),
  replication: opt({ type: 'object', description: "each source region's replication consumer (details only)" }),
}, { closed: true });

const REVOCATION = objectSchema<Revocation>({
  kind: enumOf(['jti', 'sub']), value: { type: 'string' }, at: MS, until: MS, keepUntil: MS, by: { type: 'string', description: "the admin's subject" },
}, { closed: true });

/** admin-routes.ts' revocationOf: exactly one of jti or sub; until only with sub. */
const REVOCATION_REQUEST: JsonSchema = {
  oneOf: [
    { type: 'object', properties: { jti: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['jti'], not: { anyOf: [{ required: ['sub'] }, { required: ['until'] }] } },
    {
      type: 'object',
      properties: {
        sub: { type: 'string', minLength: 1, maxLength: 256 },
        until: { type: ['integer', 'null'], description: 'ms since the epoch: tokens of the subject issued before it are refused (a suspension); at most a year ahead; absent or null: now' },
      },
      required: ['sub'],
      not: { required: ['jti'] },
    },
  ],
};

/** The operations of the public port, for a gateway running `config`. */
export function openApiOperations(config: Config): Operation[] {
  const orderId = idParam('the order id');
  return [
    { method: 'get', path: '/healthz', action: 'public', summary: 'the process is alive (touches no dependency; reads no token)', answers: { 200: { description: 'alive', schema: objectSchema<{ status: unknown }>({ status: { const: 'ok' } }, { closed: true }) } }, errors: [] },
    {
      method: 'get', path: '/readyz', action: 'GET /readyz', summary: 'readiness: 200 while every dependency answers, else 503; the details with an admin token',
      answers: { 200: { description: 'ready', schema: READINESS }, 503: { description: 'not ready (a dependency does not answer, or shutting down)', schema: READINESS } },
      errors: ['internal'],
    },
    { method: 'get', path: '/metrics', action: 'GET /metrics', summary: 'Prometheus text (admin token; the admin port serves it without one)', answers: { 200: { description: 'the metrics', text: ['text/plain'] } }, errors: ['internal'] },
    { method: 'get', path: '/v1/regions', action: 'GET /v1/regions', summary: 'the regions, their endpoints, health and load (public)', answers: { 200: { description: 'the regions', schema: REGIONS } }, errors: ['internal'] },
    {
      method: 'get', path: '/v1/drivers/nearby', action: 'GET /v1/drivers/nearby', summary: 'the nearest drivers, closest first',
      parameters: [
        { name: 'lat', in: 'query', required: true, description: 'degrees, a decimal', schema: numberIn(-90, 90) },
        { name: 'lng', in: 'query', required: true, description: 'degrees, a decimal', schema: numberIn(-180, 180) },
        { name: 'radius', in: 'query', required: false, description: 'm (default 1000; costs 1 request per started km)', schema: { ...numberIn(0, config.nearbyMaxRadiusM), default: 1000 } },
        { name: 'limit', in: 'query', required: false, description: 'at most this many drivers (default 20)', schema: { type: 'integer', minimum: 1, maximum: config.nearbyMaxLimit, default: 20 } },
        { name: 'includeStale', in: 'query', required: false, description: 'include drivers whose position is older than HEXFLEET_STALE_MS', schema: { type: 'boolean' } },
        { name: 'status', in: 'query', required: false, description: 'only drivers with this status', schema: STORED_STATUS },
      ],
      answers: { 200: { description: 'the drivers', schema: objectSchema<{ drivers: unknown }>({ drivers: { type: 'array', items: NEARBY_DRIVER } }, { closed: true }) } },
      errors: ['invalid_parameter', ...LIMITED, ...STORE],
    },
    {
      method: 'get', path: '/v1/drivers/{id}', action: 'GET /v1/drivers/:id', summary: "a driver's last-known record", parameters: [idParam('the driver id')],
      answers: { 200: { description: 'the record', schema: DRIVER_VIEW } }, errors: [...ID_PATH, 'not_found', ...LIMITED, ...STORE],
    },
    {
      method: 'post', path: '/v1/match', action: 'POST /v1/match', summary: 'match an order: offer it to the best driver nearby (idempotent by orderId and Idempotency-Key)',
      parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, description: 'the same key with the same body answers the same order', schema: ID_SCHEMA }],
      body: { schema: matchRequestSchema(config), description: 'the order' },
      answers: { 200: { description: 'the assignment (offered, or the existing order for a repeated request)', schema: ASSIGNMENT } },
      errors: ['invalid_body', 'invalid_parameter', 'id_too_long', 'no_driver', 'match_in_flight', 'idempotency_conflict', 'not_home_region', ...LIMITED, 'overloaded', 'shutting_down', ...LOGGED],
    },
    {
      method: 'get', path: '/v1/orders/{id}/assignment', action: 'GET /v1/orders/:id/assignment', summary: "an order's assignment and history", parameters: [orderId],
      answers: { 200: { description: 'the order', schema: ASSIGNMENT_DETAIL } }, errors: [...ID_PATH, 'not_found', ...LIMITED, ...STORE],
    },
    ...(['cancel', 'complete'] as const).map((verb): Operation => ({
      method: 'post', path: `/v1/orders/{id}/${verb}`, action: `POST /v1/orders/:id/${verb}`,
      summary: verb === 'cancel' ? 'cancel an open order (its driver is released)' : 'complete an accepted order', parameters: [orderId],
      answers: { 200: { description: 'the order after the change', schema: ASSIGNMENT } }, errors: [...ID_PATH, 'not_found', 'order_closed', 'not_home_region', ...LIMITED, ...LOGGED],
    })),
    {
      method: 'post', path: '/v1/orders/{id}/tracking-token', action: 'POST /v1/orders/:id/tracking-token', summary: 'a tracker token that may watch this one order on /v1/track', parameters: [orderId],
      answers: { 200: { description: 'the token', schema: objectSchema<{ token: unknown; expiresAt: unknown }>({ token: { type: 'string' }, expiresAt: MS }, { closed: true }) } },
      errors: [...ID_PATH, ...LIMITED, 'internal'],
    },
    {
      method: 'post', path: '/v1/admin/revocations', action: 'POST /v1/admin/revocations', summary: 'revoke a token (jti) or every token of a subject (sub, optionally until a time)',
      body: { schema: REVOCATION_REQUEST, description: '{"jti":…} or {"sub":…,"until"?:ms}' },
      answers: { 200: { description: 'stored; every gateway refuses the tokens within a second', schema: objectSchema<{ revocation: unknown }>({ revocation: REVOCATION }, { closed: true }) } },
      errors: ['invalid_body', ...STORE],
    },
    {
      method: 'get', path: '/v1/admin/revocations', action: 'GET /v1/admin/revocations', summary: 'the revocations in force',
      answers: { 200: { description: 'the revocations', schema: objectSchema<{ revocations: unknown }>({ revocations: { type: 'array', items: REVOCATION } }, { closed: true }) } },
      errors: STORE,
    },
    { method: 'get', path: '/openapi.json', action: 'GET /openapi.json', summary: 'this document (public)', answers: { 200: { description: 'OpenAPI 3.1', schema: ANY_OBJECT } }, errors: [] },
    ...opsMapOperations(),
    { method: 'get', path: '/asyncapi.json', action: 'GET /asyncapi.json', summary: 'the WebSocket protocols /v1/driver and /v1/track, frame by frame (public)', answers: { 200: { description: 'AsyncAPI 3.0', schema: ANY_OBJECT } }, errors: [] },
  ];
}

/** One open order of the operations map (src/ops-map/ops-order-feed.ts' OpsOrder). */
const OPS_ORDER: JsonSchema = {
  type: 'object',
  properties: {
    orderId: ID_SCHEMA, state: enumOf(['searching', 'offered', 'accepted']), pickup: POINT_SCHEMA, dropoff: { anyOf: [POINT_SCHEMA, { type: 'null' }] },
    driverId: { anyOf: [ID_SCHEMA, { type: 'null' }] }, attempt: { type: 'integer', minimum: 0 },
    etaS: { type: ['number', 'null'] }, etaAt: { type: ['number', 'null'] }, offerExpiresAt: { type: ['number', 'null'] },
  },
  required: ['orderId', 'state', 'pickup', 'dropoff', 'driverId', 'attempt', 'etaS', 'etaAt', 'offerExpiresAt'],
  additionalProperties: false,
};

/** One saga transition the operations map heard (OpsEvent). */
const OPS_EVENT: JsonSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer', minimum: 1 }, type: { type: 'string' }, orderId: ID_SCHEMA, state: ORDER_STATE, attempt: { type: 'integer', minimum: 0 },
    at: MS, driverId: { anyOf: [ID_SCHEMA, { type: 'null' }] }, reason: { type: ['string', 'null'] },
  },
  required: ['seq', 'type', 'orderId', 'state', 'attempt', 'at', 'driverId', 'reason'],
  additionalProperties: false,
};

/** The live operations map (src/ops-map/): its page and files, and its orders feed. */
function opsMapOperations(): Operation[] {
  return [
    { method: 'get', path: '/ops', action: 'GET /ops', summary: 'the live operations map page (public: it holds no data)', answers: { 200: { description: 'the page', text: ['text/html'] } }, errors: ['internal'] },
    {
      method: 'get', path: '/ops/{file}', action: 'GET /ops', summary: "the operations map's files (ops-map.js, ops-map.css, h3-js.es.js)",
      parameters: [{ name: 'file', in: 'path', required: true, description: 'a file name', schema: { type: 'string', minLength: 1 } }],
      answers: { 200: { description: 'the file', text: ['text/javascript', 'text/css'] } }, errors: ['not_found', 'internal'],
    },
    {
      method: 'get', path: '/v1/ops/orders', action: 'GET /v1/ops/orders', summary: 'open orders with their driver and ETA, and the saga transitions heard since ?since=',
      parameters: [{ name: 'since', in: 'query', required: false, description: 'the seq of the last answer (default 0: every transition kept)', schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } }],
      answers: {
        200: {
          description: 'the snapshot',
          schema: {
            type: 'object',
            properties: {
              orders: { type: 'array', items: OPS_ORDER }, openOrders: { type: 'integer', minimum: 0 }, truncated: { type: 'boolean' },
              events: { type: 'array', items: OPS_EVENT }, seq: { type: 'integer', minimum: 0 }, now: MS,
            },
            required: ['orders', 'openOrders', 'truncated', 'events', 'seq', 'now'],
            additionalProperties: false,
          },
        },
      },
      errors: ['invalid_parameter', ...STORE],
    },
  ];
}
