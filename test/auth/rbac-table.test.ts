import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../src/auth/authorize.js';
import { DEFAULT_MFA_POLICY } from '../../src/auth/mfa.js';
import { type Action, ACTIONS, type Grant, rbacRow, RBAC_TABLE } from '../../src/auth/rbac-table.js';
import { type Principal, type Role, ROLES } from '../../src/auth/tokens.js';
import { ErrorCodes, type ErrorCode, HexfleetError } from '../../src/protocol/error-codes.js';
import { offset } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, type Reply, UpgradeRefused } from '../support/raw-driver-client.js';

/**
 * RBAC_TABLE against a running gateway, every cell: each principal (every
 * role, an admin without a second factor, an admin whose second factor is
 * too old, and no token at all) tries each action through a real HTTP
 * request or a real WebSocket upgrade and frame. An allowed cell must not
 * answer 401/403 (nor a refusal code in a frame); a denied one must answer
 * 403 `forbidden` naming the role and the action (401 without a token); a
 * scoped cell is tried on the principal's own resource and on another's.
 */

/** Who tries: a role's token, or an admin token that fails the MFA policy. */
type Who = Role | 'admin without a second factor' | 'admin whose second factor is stale' | 'no token';
const WHO: readonly Who[] = [...ROLES, 'admin without a second factor', 'admin whose second factor is stale', 'no token'];

/** What an attempt got: an HTTP status (101 for an opened socket, 200 for an accepted frame) and the wire code if any. */
interface Outcome {
  status: number;
  code?: string;
  message?: string;
}

/** Which resource a scoped cell is tried on. */
type Target = 'own' | 'other';

const OWN_DRIVER = 'rbac-driver';
const OTHER_DRIVER = 'rbac-other-driver';
const OWN_ORDER = 'o-rbac-own';
const OTHER_ORDER = 'o-rbac-other';
/** Codes by which the gateway refuses (any of them in an allowed cell fails the test). */
const REFUSALS: readonly string[] = ['unauthorized', 'forbidden', 'not_allowed', 'mfa_required'];

let tg: TestGateway;
let service: string;
const tokens = new Map<Who, string | undefined>();
let orderSeq = 0;
/** Seqs of OWN_DRIVER's pings, across the cases that stream as it (a lower one would be a duplicate). */
let pingSeq = 0;
/** A pickup nobody else uses, ~50 km from the last (so no match here ever finds another test's driver). */
let siteSeq = 0;
const nextSite = () => ({ lat: -40 + (siteSeq++ % 160) * 0.5, lng: -120 });

beforeAll(async () => {
  tg = await startTestGateway('memory', { env: { HEXFLEET_OFFER_TIMEOUT_MS: '600000' } });
  service = await tg.token('service', 'rbac-service');
  const nowS = Math.floor(Date.now() / 1000);
  const sign = tg.tokens.sign.bind(tg.tokens);
  tokens.set('driver', await sign({ role: 'driver', sub: OWN_DRIVER }));
  tokens.set('service', service);
  tokens.set('admin', await tg.token('admin', 'rbac-ops'));
  tokens.set('customer', await sign({ role: 'customer', sub: 'rbac-customer', orders: [OWN_ORDER] }));
  tokens.set('tracker', await sign({ role: 'tracker', sub: OWN_ORDER, ttlS: 600 }));
  // A password only (amr pwd): no second factor.
  tokens.set('admin without a second factor', await sign({ role: 'admin', sub: 'rbac-ops', amr: ['pwd'], authTimeS: nowS }));
  // A second factor used longer ago than the policy allows.
  tokens.set('admin whose second factor is stale', await sign({ role: 'admin', sub: 'rbac-ops', amr: ['pwd', 'otp'], authTimeS: nowS - DEFAULT_MFA_POLICY.maxAgeS - 600 }));
  tokens.set('no token', undefined);
});

afterAll(() => stopAllGateways());

function roleOf(who: Who): Role | undefined {
  if (who === 'no token') return undefined;
  return who.startsWith('admin') ? 'admin' : (who as Role);
}

/** An HTTP answer as an outcome. */
async function http(method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<Outcome> {
  const r = await httpRequest(tg.port, method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
  return { status: r.status, code: r.json?.code, message: r.json?.message };
}

/** Opens a socket; a refused upgrade is its outcome. */
async function open(path: '/v1/driver' | '/v1/track', token: string | undefined): Promise<RawDriverClient | Outcome> {
  try {
    const c = await RawDriverClient.open(`ws://127.0.0.1:${tg.port}${path}`, token === undefined ? {} : { queryToken: token });
    tg.clients.add(c);
    return c;
  } catch (err) {
    if (!(err instanceof UpgradeRefused)) throw err;
    const body = JSON.parse(err.body) as { code: string; message: string };
    return { status: err.status, code: body.code, message: body.message };
  }
}

/** Sends a frame and turns the first answer that matches into an outcome (an error frame: its code's HTTP status). */
async function frame(c: RawDriverClient, send: unknown, answer: (r: Reply & Record<string, unknown>) => boolean): Promise<Outcome> {
  const reply = c.nextReply((r) => r.type === 'error' || answer(r as Reply & Record<string, unknown>), `the answer to ${JSON.stringify(send)}`);
  c.send(send);
  const r = await reply;
  if (r.type !== 'error') return { status: 200 };
  return { status: ErrorCodes[r.code as ErrorCode].http, code: r.code, message: r.message };
}

/** Opens `path` with the token, then (when it opened) sends one frame; closes the socket. */
async function withSocket(path: '/v1/driver' | '/v1/track', token: string | undefined, run: (c: RawDriverClient) => Promise<Outcome>): Promise<Outcome> {
  const c = await open(path, token);
  if (!(c instanceof RawDriverClient)) return c;
  try {
    return await run(c);
  } finally {
    tg.clients.delete(c);
    await c.terminate();
  }
}

const orderOf = (target: Target) => (target === 'own' ? OWN_ORDER : OTHER_ORDER);
const newOrderId = () => `o-rbac-${++orderSeq}`;

/**
 * An order offered to `driverId` (own) or to another driver (other), for
 * offer_reply: a driver available alone at a fresh site, then a match there.
 */
async function offeredOrder(target: Target): Promise<{ orderId: string; done: () => Promise<void> }> {
  const site = nextSite();
  const driverId = target === 'own' ? OWN_DRIVER : `${OTHER_DRIVER}-${siteSeq}`;
  const holder = await RawDriverClient.open(tg.driverUrl, { queryToken: await tg.tokens.sign({ role: 'driver', sub: driverId }) });
  tg.clients.add(holder);
  const at = offset(site, 100);
  // Numbered after every ping this driver sent before (the pings probe streams as OWN_DRIVER too).
  expect(await holder.sendBatch([{ seq: ++pingSeq, lat: at.lat, lng: at.lng, ts: Date.now(), status: 'available' }])).toMatchObject({ type: 'ack' });
  const orderId = newOrderId();
  const r = await http('POST', '/v1/match', service, { orderId, pickup: site });
  expect(r.status, `the offer for ${orderId}: ${JSON.stringify(r)}`).toBe(200);
  await holder.waitForReply((x) => x.type === 'offer' && (x as Reply & { orderId?: string }).orderId === orderId, `the offer of ${orderId}`);
  return {
    orderId,
    // Cancelled whatever the probe did: the driver is free for the next case.
    done: async () => {
      await http('POST', `/v1/orders/${orderId}/cancel`, service);
      await holder.terminate();
    },
  };
}

/**
 * How each action is tried. Typed by the table's keys: a row added without a
 * probe here does not compile.
 */
const PROBES: Record<Action, (token: string | undefined, target: Target) => Promise<Outcome>> = {
  'GET /readyz': async (t) => {
    const r = await httpRequest(tg.port, 'GET', '/readyz', t === undefined ? {} : { token: t });
    // The public answer is the status alone; the details (store, failing) only to a token the table allows.
    if (r.status === 200) expect(Object.keys(r.json)).toEqual(t === undefined ? ['status'] : ['status', 'store']);
    return { status: r.status, code: r.json?.code, message: r.json?.message };
  },
  'GET /metrics': (t) => http('GET', '/metrics', t),
  'GET /v1/regions': (t) => http('GET', '/v1/regions', t),
  'GET /openapi.json': (t) => http('GET', '/openapi.json', t),
  'GET /asyncapi.json': (t) => http('GET', '/asyncapi.json', t),
  'GET /ops': (t) => http('GET', '/ops', t),
  'GET /v1/ops/orders': (t) => http('GET', '/v1/ops/orders', t),
  'GET /v1/drivers/nearby': (t) => http('GET', '/v1/drivers/nearby?lat=10&lng=10&radius=1000', t),
  'GET /v1/drivers/:id': (t) => http('GET', `/v1/drivers/${OWN_DRIVER}`, t),
  'POST /v1/match': (t) => http('POST', '/v1/match', t, { orderId: newOrderId(), pickup: nextSite() }),
  'GET /v1/orders/:id/assignment': (t) => http('GET', `/v1/orders/${newOrderId()}/assignment`, t),
  'POST /v1/orders/:id/cancel': (t) => http('POST', `/v1/orders/${newOrderId()}/cancel`, t),
  'POST /v1/orders/:id/complete': (t) => http('POST', `/v1/orders/${newOrderId()}/complete`, t),
  'POST /v1/orders/:id/tracking-token': (t) => http('POST', `/v1/orders/${newOrderId()}/tracking-token`, t),
  // A jti no token carries: revoking it refuses nobody (a sub would revoke this file's own tokens).
  'POST /v1/admin/revocations': (t) => http('POST', '/v1/admin/revocations', t, { jti: `rbac-nobody-${++orderSeq}` }),
  'GET /v1/admin/revocations': (t) => http('GET', '/v1/admin/revocations', t),
  'WS /v1/driver': (t) => withSocket('/v1/driver', t, async () => ({ status: 101 })),
  'WS /v1/driver pings': (t) => withSocket('/v1/driver', t, async (c) => {
    const seq = ++pingSeq;
    const out = await frame(c, { type: 'pings', pings: [{ seq, lat: 1, lng: 1, ts: Date.now(), status: 'busy' }] }, (r) => r.type === 'ack');
    // Own driver: the position is stored as the token's sub.
    if (out.status === 200) expect((await tg.gateway.store.get(OWN_DRIVER, Date.now()))?.seq).toBe(seq);
    return out;
  }),
  'WS /v1/driver offer_reply': async (t, target) => {
    const offered = await offeredOrder(target);
    try {
      return await withSocket('/v1/driver', t, (c) =>
        frame(c, { type: 'offer_reply', orderId: offered.orderId, accept: false }, (r) => r.type === 'offer_result' && r.orderId === offered.orderId));
    } finally {
      await offered.done();
    }
  },
  'WS /v1/track': (t) => withSocket('/v1/track', t, async () => ({ status: 101 })),
  'WS /v1/track subscribe': (t, target) => withSocket('/v1/track', t, (c) =>
    frame(c, { type: 'subscribe', orderId: orderOf(target) }, (r) => r.type === 'status' && r.orderId === orderOf(target))),
  'WS /v1/track unsubscribe': (t, target) => withSocket('/v1/track', t, (c) =>
    frame(c, { type: 'unsubscribe', orderId: orderOf(target) }, (r) => r.type === 'unsubscribed' && r.orderId === orderOf(target))),
  'WS /v1/track subscribe_area': (t) => withSocket('/v1/track', t, (c) =>
    frame(c, { type: 'subscribe_area', bbox: [10, 10, 10.1, 10.1] }, (r) => r.type === 'area_subscribed')),
  'WS /v1/track unsubscribe_area': (t) => withSocket('/v1/track', t, (c) =>
    frame(c, { type: 'unsubscribe_area', bbox: [10, 10, 10.1, 10.1] }, (r) => r.type === 'area_unsubscribed')),
};

/** What a cell promises: allowed, or refused with this status and code. */
type Expected = { allowed: true } | { allowed: false; status: number; code: string };

function expectedOf(action: Action, who: Who, target: Target): Expected {
  const row = rbacRow(action);
  const role = roleOf(who);
  if (role === undefined) return row.public ? { allowed: true } : { allowed: false, status: 401, code: 'unauthorized' };
  const grant: Grant | undefined = row.roles[role];
  if (!grant) return { allowed: false, status: 403, code: 'forbidden' };
  if (grant.scope === 'own-orders' && target === 'other') return { allowed: false, status: 403, code: 'not_allowed' };
  // A driver's socket is its token's sub: the only "other" a frame can name is an order offered to another driver, the saga's refusal.
  if (grant.scope === 'own-driver' && target === 'other') return { allowed: false, status: 409, code: 'not_offered' };
  if (grant.mfa && who !== 'admin') return { allowed: false, status: 403, code: 'mfa_required' };
  return { allowed: true };
}

/** The action a refusal names: a frame's own, or its endpoint's connect when the role may not open the socket. */
function decidingAction(action: Action, role: Role): Action {
  if (rbacRow(action).kind !== 'frame') return action;
  const connect = action.split(' ').slice(0, 2).join(' ') as Action;
  return rbacRow(connect).roles[role] ? action : connect;
}

/** Every cell, and for a scoped cell both its own and another's resource (only where a frame can name another's). */
const CELLS = ACTIONS.flatMap((action) =>
  WHO.flatMap((who) => {
    const grant = roleOf(who) === undefined ? undefined : rbacRow(action).roles[roleOf(who)!];
    const scoped = grant?.scope === 'own-orders' || (grant?.scope === 'own-driver' && action === 'WS /v1/driver offer_reply');
    return (scoped ? (['own', 'other'] as const) : (['own'] as const)).map((target) => ({ action, who, target }));
  }),
);

describe('RBAC_TABLE, every cell against a running gateway', () => {
  it.each(CELLS)('$action by $who ($target)', async ({ action, who, target }) => {
    const want = expectedOf(action, who, target);
    const got = await PROBES[action](tokens.get(who), target);
    if (want.allowed) {
      expect(got.status, JSON.stringify(got)).not.toBe(401);
      expect(got.status, JSON.stringify(got)).not.toBe(403);
      expect(REFUSALS, JSON.stringify(got)).not.toContain(got.code);
      return;
    }
    expect(got, JSON.stringify(got)).toMatchObject({ status: want.status, code: want.code });
    if (want.code === 'forbidden') {
      // The message names who was refused and what they tried (for a frame of a socket the role may not open: the connect).
      expect(got.message).toContain(`role ${roleOf(who)}`);
      expect(got.message).toContain(decidingAction(action, roleOf(who)!));
    }
  });

  it('tries a scoped cell on another\'s resource for every scoped cell that can name one', () => {
    const scoped = CELLS.filter((c) => c.target === 'other').map((c) => `${c.action} by ${c.who}`);
    expect(scoped).toEqual(expect.arrayContaining([
      'WS /v1/track subscribe by customer', 'WS /v1/track subscribe by tracker',
      'WS /v1/track unsubscribe by customer', 'WS /v1/track unsubscribe by tracker',
      'WS /v1/driver offer_reply by driver',
    ]));
  });
});

describe('authorize()', () => {
  const driver: Principal = { role: 'driver', sub: OWN_DRIVER, expiresAt: Date.now() + 60_000 };
  const refusal = (f: () => void): { code: string; message: string } => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(HexfleetError);
      return { code: (err as HexfleetError).code, message: (err as Error).message };
    }
    throw new Error('authorize() allowed it');
  };

  it('refuses an own-driver action on another driver, and one without the resource it is scoped by', () => {
    // Over the wire a driver's socket cannot name another driver; the function still refuses it.
    expect(refusal(() => authorize(driver, 'WS /v1/driver pings', { driverId: OTHER_DRIVER }, DEFAULT_MFA_POLICY, Date.now())))
      .toMatchObject({ code: 'forbidden', message: expect.stringContaining('own driver') });
    expect(refusal(() => authorize(driver, 'WS /v1/driver pings', undefined, DEFAULT_MFA_POLICY, Date.now())).code).toBe('forbidden');
    const customer: Principal = { role: 'customer', sub: 'c', expiresAt: Date.now() + 60_000, orders: [OWN_ORDER] };
    expect(refusal(() => authorize(customer, 'WS /v1/track subscribe', undefined, DEFAULT_MFA_POLICY, Date.now())).code).toBe('not_allowed');
    expect(() => authorize(customer, 'WS /v1/track subscribe', { orderId: OWN_ORDER }, DEFAULT_MFA_POLICY, Date.now())).not.toThrow();
  });

  it('gives every admin cell MFA and only admin cells (admin is the operators\' role)', () => {
    for (const action of ACTIONS) {
      for (const [role, grant] of Object.entries(RBAC_TABLE[action].roles) as [Role, Grant][]) {
        expect(grant.mfa, `${action} for ${role}`).toBe(role === 'admin');
      }
    }
  });
});
