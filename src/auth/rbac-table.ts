import type { Role } from './tokens.js';

/**
 * Which resources of an action a role may touch:
 * - `any`: every one;
 * - `own-driver`: only the driver the token's `sub` names (a driver's stream,
 *   its pings, the offers made to it);
 * - `own-orders`: only the orders the token covers — a customer's `orders`
 *   claim, a tracker's `sub`.
 */
export type Scope = 'any' | 'own-driver' | 'own-orders';

/** One allowed cell of the table; a role absent from a row is denied. */
export interface Grant {
  scope: Scope;
  /** The token must show a second factor (`amr`) issued recently enough (`auth_time`): operator actions. */
  mfa: boolean;
}

/** One row: an HTTP route (method and path pattern) or a WebSocket endpoint's connect or frame type. */
export interface RbacRow {
  /** `http`: a request; `ws`: the upgrade of a WebSocket endpoint; `frame`: one frame type on it. */
  kind: 'http' | 'ws' | 'frame';
  /**
   * Anyone may, without a token, and gets the public answer; a token, when
   * given, is checked against `roles`, who get more. (`GET /healthz` is not
   * an action: it reads no token, on every port.)
   */
  public?: true;
  /** What the row covers, for the table of docs/security.md. */
  doc: string;
  roles: Partial<Record<Role, Grant>>;
}

const ANY: Grant = { scope: 'any', mfa: false };
const OWN_DRIVER: Grant = { scope: 'own-driver', mfa: false };
const OWN_ORDERS: Grant = { scope: 'own-orders', mfa: false };
/** Every admin cell: `admin` is the operators' role (people, not services), so each of its actions needs MFA. */
const OPERATOR: Grant = { scope: 'any', mfa: true };

const SERVICE_API = { service: ANY, admin: OPERATOR };
const WATCHERS = { customer: OWN_ORDERS, tracker: OWN_ORDERS, admin: OPERATOR };

/**
 * Who may do what: role × HTTP route or WebSocket frame type → denied, or
 * allowed with its scope and whether it needs MFA. The one source of the
 * gateway's permissions: every route and frame handler asks `authorize()`
 * with its row's key, and the table of docs/security.md is generated from this one.
 * A new route or frame type adds its row here first (its handler cannot name
 * an action that is not a key), and test/auth iterates every cell.
 */
export const RBAC_TABLE = {
  'GET /readyz': { kind: 'http', public: true, doc: 'readiness: without a token the status only (200/503); an admin token also gets the details (store, failing dependencies), as the admin port does', roles: { admin: OPERATOR } },
  'GET /metrics': { kind: 'http', doc: 'Prometheus text on the public port (the admin port serves it without a token)', roles: { admin: OPERATOR } },
  'GET /v1/regions': { kind: 'http', public: true, doc: 'the regions, their endpoints, health (with the probe\'s age) and load: public (the SDKs ask it before choosing a region); a token, when given, is checked and gets the same answer', roles: { driver: ANY, customer: ANY, tracker: ANY, service: ANY, admin: OPERATOR } },
  'GET /openapi.json': { kind: 'http', public: true, doc: 'the HTTP API described (OpenAPI 3.1, with this gateway\'s limits): public; a token, when given, is checked', roles: { driver: ANY, customer: ANY, tracker: ANY, service: ANY, admin: OPERATOR } },
  'GET /asyncapi.json': { kind: 'http', public: true, doc: 'the WebSocket protocols described frame by frame (AsyncAPI 3.0): public; a token, when given, is checked', roles: { driver: ANY, customer: ANY, tracker: ANY, service: ANY, admin: OPERATOR } },
  'GET /v1/drivers/nearby': { kind: 'http', doc: 'nearest drivers', roles: SERVICE_API },
  'GET /v1/drivers/:id': { kind: 'http', doc: "a driver's last-known record", roles: SERVICE_API },
  'POST /v1/match': { kind: 'http', doc: 'match an order', roles: SERVICE_API },
  'GET /v1/orders/:id/assignment': { kind: 'http', doc: "an order's assignment and history", roles: SERVICE_API },
  'POST /v1/orders/:id/cancel': { kind: 'http', doc: 'cancel an order', roles: SERVICE_API },
  'POST /v1/orders/:id/complete': { kind: 'http', doc: 'complete an order', roles: SERVICE_API },
  'POST /v1/orders/:id/tracking-token': { kind: 'http', doc: 'issue a tracker token for one order', roles: SERVICE_API },
  'POST /v1/admin/revocations': { kind: 'http', doc: 'revoke a token (jti) or every token of a subject (sub)', roles: { admin: OPERATOR } },
  'GET /v1/admin/revocations': { kind: 'http', doc: 'the revocations in force', roles: { admin: OPERATOR } },
  'GET /ops': { kind: 'http', public: true, doc: 'the live operations map page and its files (/ops/*): public, they hold no data; the page uses an admin token (typed in, or in its URL fragment) for GET /v1/ops/orders and the area subscription of /v1/track', roles: { driver: ANY, customer: ANY, tracker: ANY, service: ANY, admin: OPERATOR } },
  'GET /v1/ops/orders': { kind: 'http', doc: 'the operations map\'s orders: open orders with their driver and ETA, and the saga transitions (offers, acceptances…) heard since ?since=', roles: { admin: OPERATOR } },
  'WS /v1/driver': { kind: 'ws', doc: "open a driver's stream (the token's sub is the driver id); an auth frame with a fresh token is checked as this connect again", roles: { driver: OWN_DRIVER } },
  'WS /v1/driver pings': { kind: 'frame', doc: "positions, stored as the socket's driver", roles: { driver: OWN_DRIVER } },
  'WS /v1/driver offer_reply': { kind: 'frame', doc: 'accept or reject an offer (one made to this driver, else not_offered)', roles: { driver: OWN_DRIVER } },
  'WS /v1/track': { kind: 'ws', doc: 'open a tracking socket (a customer token needs an orders claim; a tracker token an exp); what it may watch is decided per frame; an auth frame is checked as this connect again', roles: { customer: ANY, tracker: ANY, admin: OPERATOR } },
  'WS /v1/track subscribe': { kind: 'frame', doc: "watch an order (another's: not_allowed)", roles: WATCHERS },
  'WS /v1/track unsubscribe': { kind: 'frame', doc: 'stop watching an order', roles: WATCHERS },
  'WS /v1/track subscribe_area': { kind: 'frame', doc: 'watch every driver in a bbox', roles: { admin: OPERATOR } },
  'WS /v1/track unsubscribe_area': { kind: 'frame', doc: 'stop watching a bbox', roles: { admin: OPERATOR } },
} as const satisfies Record<string, RbacRow>;

/** An action of the table: `METHOD /path` for HTTP, `WS /path` for a connect, `WS /path type` for a frame. */
export type Action = keyof typeof RBAC_TABLE;

/** The table's actions in the order docs/security.md lists them. */
export const ACTIONS = Object.keys(RBAC_TABLE) as Action[];

/** The row of an action (typed as the general row shape). */
export function rbacRow(action: Action): RbacRow {
  return RBAC_TABLE[action];
}
