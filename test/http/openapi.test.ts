import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revocationOf } from '../../src/http/admin-routes.js';
import { parseNearby } from '../../src/http/driver-routes.js';
import { errorCodesOf, openApiDocument } from '../../src/http/openapi-document.js';
import { type Operation, openApiOperations } from '../../src/http/openapi-operations.js';
import { ACTIONS, rbacRow } from '../../src/auth/rbac-table.js';
import { parseMatchRequest } from '../../src/orders/match-request.js';
import { ErrorCodes, HexfleetError } from '../../src/protocol/error-codes.js';
import { checkApiResponse, documentedOperation } from '../support/api-response-check.js';
import { ping, startTestGateway, stopAllGateways, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import type { Reply } from '../support/raw-driver-client.js';

/**
 * The OpenAPI document (GET /openapi.json) against the gateway it describes:
 * its operations are exactly the registered routes and the HTTP rows of
 * RBAC_TABLE; its request schemas accept exactly what the routes' validators
 * accept; and a real gateway, driven through every route with valid and
 * invalid requests, answers only what the document says (every answer of the
 * tests' HTTP client is checked: test/support/api-response-check.ts).
 */

const ROOT = join(import.meta.dirname, '../..');
let tg: TestGateway;
let doc: Record<string, any>;
const ops = (): Operation[] => openApiOperations(tg.config);

beforeAll(async () => {
  tg = await startTestGateway('memory', { env: { HEXFLEET_OFFER_TIMEOUT_MS: '600000' } });
  const served = await httpRequest(tg.port, 'GET', '/openapi.json');
  expect(served.status).toBe(200);
  doc = served.json;
});
afterAll(stopAllGateways);

/** Every `app.get('/…'` / `app.post(…)` of src/: method and uWebSockets.js pattern (a `${…}` part matches one segment). */
function registeredRoutes(): { method: string; pattern: string; file: string }[] {
  const routes: { method: string; pattern: string; file: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/\bapp\.(get|post|put|patch|del|head|options|any)\(\s*([^,]+),/g)) {
          const file = relative(ROOT, path);
          const literal = /^(['`])(.*)\1$/.exec(m[2]!.trim());
          if (!literal) throw new Error(`${file}: app.${m[1]}(${m[2]}, …) registers a route by a non-literal path: write the path out, so this test can see it`);
          if (literal[2] === '/*') continue; // The catch-all 404 of each listener.
          routes.push({ method: m[1]!.toUpperCase(), pattern: literal[2]!, file });
        }
      }
    }
  };
  walk(join(ROOT, 'src'));
  return routes;
}

/** OpenAPI `/v1/orders/{id}/cancel` as a uWebSockets.js pattern `/v1/orders/:id/cancel`. */
const uwsPath = (openApiPath: string) => openApiPath.replace(/\{([^}]+)\}/g, ':$1');
/** Does a registered pattern (maybe with `${…}`) cover `path`? */
const covers = (pattern: string, path: string) => new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\$\{[^}]+\}/g, '[^/]+')}$`).test(path);

describe('one source of truth', () => {
  it('describes every route registered in src/, and only those', () => {
    const routes = registeredRoutes();
    // /healthz, /readyz and /metrics are registered once for both listeners (health-routes.ts).
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) {
      const described = ops().filter((o) => o.method.toUpperCase() === r.method && covers(r.pattern, uwsPath(o.path)));
      expect(described.length, `${r.method} ${r.pattern} (${r.file}) has no operation in src/http/openapi-operations.ts`).toBeGreaterThan(0);
    }
    for (const o of ops()) {
      const registered = routes.filter((r) => r.method === o.method.toUpperCase() && covers(r.pattern, uwsPath(o.path)));
      expect(registered.length, `${o.method.toUpperCase()} ${o.path} is described but no route serves it`).toBeGreaterThan(0);
    }
  });

  it('describes every HTTP row of RBAC_TABLE, and names a row (or none, for GET /healthz) for each operation', () => {
    const httpActions = ACTIONS.filter((a) => rbacRow(a).kind === 'http');
    for (const action of httpActions) expect(ops().some((o) => o.action === action), `${action} has no operation`).toBe(true);
    for (const o of ops()) {
      if (o.action === 'public') expect(o.path).toBe('/healthz');
      else expect(httpActions, `${o.method} ${o.path} names ${o.action}`).toContain(o.action);
    }
  });

  it('is served as built, with each error code under its status and the public rows needing no token', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument(tg.config))));
    expect(doc.openapi).toBe('3.1.0');
    for (const o of ops()) {
      const operation = doc.paths[o.path][o.method];
      for (const code of errorCodesOf(o)) {
        const schema = operation.responses[String(ErrorCodes[code].http)]?.content['application/json'].schema;
        expect(schema?.properties.code.enum, `${o.method} ${o.path}: ${code}`).toContain(code);
      }
      const open = o.action === 'public' || rbacRow(o.action).public === true;
      const tokenless = operation.security.length === 0 || operation.security.some((s: object) => Object.keys(s).length === 0);
      expect(tokenless, `${o.method} ${o.path} needs no token`).toBe(open);
    }
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version).toBe(doc.info.version);
  });

  it('compiles every schema of the document (JSON Schema 2020-12)', () => {
    const ajv = new Ajv2020({ strict: false });
    let schemas = 0;
    for (const path of Object.values(doc.paths) as Record<string, any>[]) {
      for (const op of Object.values(path)) {
        for (const p of op.parameters ?? []) (ajv.compile(p.schema), schemas++);
        for (const media of Object.values(op.requestBody?.content ?? {}) as { schema: object }[]) (ajv.compile(media.schema), schemas++);
        for (const r of Object.values(op.responses) as { content: Record<string, { schema: object }> }[]) {
          for (const media of Object.values(r.content)) (ajv.compile(media.schema), schemas++);
        }
      }
    }
    expect(schemas).toBeGreaterThan(40);
  });
});

/** Runs a validator: true when it accepts, false when it throws a HexfleetError (anything else is a bug). */
function accepts(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch (err) {
    if (err instanceof HexfleetError) return false;
    throw err;
  }
}

function bodySchema(path: string): object {
  return doc.paths[path].post.requestBody.content['application/json'].schema;
}

/** Values a field may be sent as: the right kind in and out of range, and every wrong kind. */
const anyJson = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.string({ maxLength: 4 }), fc.double(), fc.integer(), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
/** Mostly valid, so that both outcomes are common in a body of several fields. */
const coordinate = (limit: number) => fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -limit, max: limit, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: -2 * limit, max: 2 * limit, noNaN: true }) },
  { weight: 1, arbitrary: anyJson },
);
const point = fc.oneof({ weight: 8, arbitrary: fc.record({ lat: coordinate(90), lng: coordinate(180) }) }, { weight: 1, arbitrary: fc.record({ lat: coordinate(90) }) }, { weight: 1, arbitrary: anyJson });
const id = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[!-~]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('', 'has space', 'x'.repeat(128), 'x'.repeat(129), 'é') },
  { weight: 1, arbitrary: anyJson },
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: a });
const drop = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

describe('the request schemas accept exactly what the routes accept', () => {
  it('POST /v1/match: the body schema and parseMatchRequest agree on 3000 generated bodies', () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(bodySchema('/v1/match'));
    const limits = { defaultRadiusM: tg.config.matchRadiusM, maxRadiusM: tg.config.nearbyMaxRadiusM };
    const vehicle = fc.oneof(fc.constantFrom('walk', 'bike', 'scooter', 'car'), fc.constantFrom('truck', ''), anyJson);
    const body = fc.oneof(
      { weight: 6, arbitrary: fc.record({
        orderId: id,
        pickup: point,
        dropoff: maybe(point),
        radiusM: maybe(fc.oneof(fc.double({ min: -10, max: limits.maxRadiusM * 1.2, noNaN: true }), fc.constantFrom(0, limits.maxRadiusM), anyJson)),
        requirements: maybe(fc.oneof({ weight: 4, arbitrary: fc.record({ vehicle: fc.oneof({ weight: 4, arbitrary: fc.array(vehicle, { maxLength: 3 }) }, { weight: 1, arbitrary: anyJson }) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: anyJson })),
        mode: maybe(fc.oneof(fc.constantFrom('immediate', 'batch', 'later'), anyJson)),
        extra: maybe(anyJson),
      }).map(drop) },
      { weight: 1, arbitrary: anyJson },
    );
    let accepted = 0;
    fc.assert(fc.property(body, (b) => {
      const byRoute = accepts(() => parseMatchRequest(b, limits));
      const bySchema = validate(b);
      expect(bySchema, `${JSON.stringify(b)}: route ${byRoute ? 'accepts' : 'refuses'}, schema ${bySchema ? 'accepts' : 'refuses'} (${ajv.errorsText(validate.errors)})`).toBe(byRoute);
      if (byRoute) accepted++;
    }), { numRuns: 3000 });
    // Both outcomes were tried often enough to mean something.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(2900);
  });

  it('POST /v1/admin/revocations: the body schema and revocationOf agree on 3000 generated bodies (until within the allowed year)', () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(bodySchema('/v1/admin/revocations'));
    const now = Date.now();
    const keepMs = 86_400_000;
    const name = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), fc.constant('s'.repeat(257)), anyJson);
    // The schema cannot know the clock: until is generated inside the window revocationOf allows, or of another type.
    const until = fc.oneof(fc.constant(undefined), fc.integer({ min: now, max: now + 30 * 86_400_000 }), fc.constant(now + 0.5), anyJson.filter((v) => !Number.isInteger(v)));
    const body = fc.oneof(
      { weight: 6, arbitrary: fc.record({ jti: maybe(name), sub: maybe(name), until }).map(drop) },
      { weight: 1, arbitrary: anyJson },
    );
    let accepted = 0;
    fc.assert(fc.property(body, (b) => {
      const byRoute = accepts(() => revocationOf(Buffer.from(JSON.stringify(b) ?? ''), 'ops', now, keepMs));
      const bySchema = b !== undefined && validate(b);
      expect(bySchema, `${JSON.stringify(b)}: route ${byRoute ? 'accepts' : 'refuses'}, schema ${bySchema ? 'accepts' : 'refuses'}`).toBe(byRoute);
      if (byRoute) accepted++;
    }), { numRuns: 3000 });
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(2900);
  });

  it('GET /v1/drivers/nearby: the parameter schemas and parseNearby agree, case by case', () => {
    const ajv = new Ajv2020({ strict: false, coerceTypes: true });
    const params: { name: string; required: boolean; schema: object }[] = doc.paths['/v1/drivers/nearby'].get.parameters;
    const bySchema = (query: Record<string, string>) => params.every((p) => {
      if (query[p.name] === undefined) return !p.required;
      const holder = { v: query[p.name] };
      return ajv.compile({ type: 'object', properties: { v: p.schema } })(holder);
    });
    const cases: Record<string, string>[] = [
      { lat: '52.5', lng: '13.4' }, { lat: '-90', lng: '180' }, { lat: '90.0001', lng: '0' }, { lat: '0', lng: '-180.5' }, { lng: '1' }, { lat: '1' },
      { lat: '1', lng: '1', radius: '0' }, { lat: '1', lng: '1', radius: String(tg.config.nearbyMaxRadiusM) }, { lat: '1', lng: '1', radius: String(tg.config.nearbyMaxRadiusM + 1) },
      { lat: '1', lng: '1', radius: '-1' }, { lat: '1', lng: '1', limit: '1' }, { lat: '1', lng: '1', limit: '0' }, { lat: '1', lng: '1', limit: '2.5' },
      { lat: '1', lng: '1', limit: String(tg.config.nearbyMaxLimit) }, { lat: '1', lng: '1', limit: String(tg.config.nearbyMaxLimit + 1) },
      { lat: '1', lng: '1', includeStale: 'true' }, { lat: '1', lng: '1', includeStale: 'false' }, { lat: '1', lng: '1', includeStale: 'yes' },
      { lat: '1', lng: '1', status: 'busy' }, { lat: '1', lng: '1', status: 'unknown' }, { lat: '1', lng: '1', status: 'gone' }, { lat: 'abc', lng: '1' },
      { lat: '1e1', lng: '1' },
    ];
    for (const query of cases) {
      const byRoute = accepts(() => parseNearby(new URLSearchParams(query).toString(), tg.config));
      expect(bySchema(query), JSON.stringify(query)).toBe(byRoute);
    }
  });
});

describe('a running gateway answers only what the document says', () => {
  it('every route, with valid and invalid requests: each answer is documented (status, media type, body)', async () => {
    const service = await tg.token('service', 'openapi-service');
    const admin = await tg.token('admin', 'openapi-ops');
    const driver = await tg.tokens.sign({ role: 'driver', sub: 'openapi-driver' });
    const adminNoMfa = await tg.tokens.sign({ role: 'admin', sub: 'openapi-ops', amr: ['pwd'] });
    const driverId = uniqueDriverId('openapi');
    const c = await tg.connectDriver(driverId);
    c.sendPings([ping(1, { lat: 40.001, lng: -3.001, status: 'available' })]);
    await c.waitForAck(1);
    const other = await tg.connectDriver(uniqueDriverId('openapi'));
    other.sendPings([ping(1, { lat: 40.002, lng: -3.002, status: 'available' })]);
    await other.waitForAck(1);

    const seen = new Map<string, Set<number>>();
    const call = async (method: 'GET' | 'POST', path: string, o: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
      const r = await httpRequest(tg.port, method, path, o); // Rejects on an undocumented answer.
      const op = documentedOperation(method, path);
      if (op) {
        const key = `${op.method} ${op.path}`;
        seen.set(key, (seen.get(key) ?? new Set()).add(r.status));
      }
      return r;
    };
    const noToken = {};
    const bad = { token: 'not.a.jwt' };

    for (const path of ['/healthz', '/openapi.json', '/asyncapi.json', '/v1/regions', '/readyz']) {
      expect((await call('GET', path)).status).toBe(200);
      await call('GET', path, bad);
    }
    await call('GET', '/readyz', { token: admin });
    await call('GET', '/v1/regions', { token: driver });
    await call('GET', '/openapi.json', { token: adminNoMfa });
    expect((await call('GET', '/metrics', { token: admin })).status).toBe(200);
    await call('GET', '/metrics', noToken);
    await call('GET', '/metrics', { token: driver });

    expect((await call('GET', '/v1/drivers/nearby?lat=40&lng=-3&radius=2000', { token: service })).json.drivers.length).toBeGreaterThan(0);
    for (const q of ['lat=91&lng=0', 'lng=0', 'lat=1&lng=1&limit=0', 'lat=1&lng=1&status=x', 'lat=0x10&lng=1']) await call('GET', `/v1/drivers/nearby?${q}`, { token: service });
    await call('GET', '/v1/drivers/nearby?lat=1&lng=1', noToken);
    expect((await call('GET', `/v1/drivers/${driverId}`, { token: service })).status).toBe(200);
    for (const p of ['nobody-here', 'x'.repeat(129), '%E0%A4%A']) await call('GET', `/v1/drivers/${p}`, { token: service });
    await call('GET', `/v1/drivers/${driverId}`, { token: driver });

    const offered = await call('POST', '/v1/match', { token: service, body: { orderId: 'o-openapi-1', pickup: { lat: 40, lng: -3 } }, headers: { 'idempotency-key': 'k-openapi-1' } });
    expect(offered.status).toBe(200);
    await call('POST', '/v1/match', { token: service, body: { orderId: 'o-openapi-2', pickup: { lat: 40, lng: -3 } }, headers: { 'idempotency-key': 'k-openapi-1' } });
    await call('POST', '/v1/match', { token: service, body: { orderId: 'o-openapi-3', pickup: { lat: -60, lng: 100 } } });
    for (const body of ['{', { orderId: 'o', pickup: { lat: 100, lng: 0 } }, { orderId: 'x'.repeat(200), pickup: { lat: 1, lng: 1 } }, [], 'null']) {
      await call('POST', '/v1/match', { token: service, body });
    }
    await call('POST', '/v1/match', { token: adminNoMfa, body: { orderId: 'o', pickup: { lat: 1, lng: 1 } } });
    expect((await call('GET', '/v1/orders/o-openapi-1/assignment', { token: service })).json.history.length).toBeGreaterThan(0);
    await call('GET', '/v1/orders/o-openapi-404/assignment', { token: service });
    // Accepted by its driver: completed once (200), then neither completed nor cancelled again (409 order_closed).
    const isOffer = (r: Reply) => r.type === 'offer' && (r as Reply & { orderId?: string }).orderId === 'o-openapi-1';
    const offeredTo = await Promise.race([c, other].map((d) => d.waitForReply(isOffer, 'the offer of o-openapi-1').then(() => d)));
    offeredTo.send({ type: 'offer_reply', orderId: 'o-openapi-1', accept: true });
    await offeredTo.waitForReply((r) => r.type === 'offer_result', 'the offer result');
    expect((await call('POST', '/v1/orders/o-openapi-1/complete', { token: service })).status).toBe(200);
    await call('POST', '/v1/orders/o-openapi-1/complete', { token: service });
    await call('POST', '/v1/orders/o-openapi-1/cancel', { token: service });
    expect((await call('POST', '/v1/match', { token: service, body: { orderId: 'o-openapi-4', pickup: { lat: 40, lng: -3 } } })).status).toBe(200);
    expect((await call('POST', '/v1/orders/o-openapi-4/cancel', { token: service })).status).toBe(200);
    await call('POST', '/v1/orders/o-openapi-404/complete', { token: service });
    await call('POST', '/v1/orders/o-openapi-404/cancel', { token: service });
    expect((await call('POST', '/v1/orders/o-openapi-1/tracking-token', { token: service })).status).toBe(200);
    await call('POST', `/v1/orders/${'x'.repeat(200)}/tracking-token`, { token: service });

    expect((await call('POST', '/v1/admin/revocations', { token: admin, body: { jti: 'openapi-nobody' } })).status).toBe(200);
    for (const body of [{}, { jti: 'a', sub: 'b' }, { sub: 'b', until: 'soon' }, 'nope']) await call('POST', '/v1/admin/revocations', { token: admin, body });
    await call('POST', '/v1/admin/revocations', { token: service, body: { jti: 'x' } });
    expect((await call('GET', '/v1/admin/revocations', { token: admin })).json.revocations.length).toBeGreaterThan(0);
    await call('GET', '/v1/admin/revocations', { token: adminNoMfa });

    expect((await call('GET', '/ops')).status).toBe(200);
    await call('GET', '/ops', bad);
    for (const file of ['ops-map.js', 'ops-map.css', 'h3-js.es.js']) expect((await call('GET', `/ops/${file}`)).status).toBe(200);
    await call('GET', '/ops/nothing.txt');
    expect((await call('GET', '/v1/ops/orders?since=0', { token: admin })).json.events.length).toBeGreaterThan(0);
    await call('GET', '/v1/ops/orders?since=-1', { token: admin });
    await call('GET', '/v1/ops/orders', { token: service });

    // Every operation answered, and with an error as well as a success where it has both.
    for (const o of ops()) {
      const statuses = seen.get(`${o.method.toUpperCase()} ${o.path}`);
      expect(statuses, `${o.method} ${o.path} was not called`).toBeDefined();
      if (o.path !== '/healthz') expect([...statuses!].some((s) => s >= 400), `${o.method} ${o.path}: ${[...statuses!]}`).toBe(true);
      expect([...statuses!].some((s) => s < 300), `${o.method} ${o.path}: ${[...statuses!]}`).toBe(true);
    }
  });

  it('the check refuses what the document does not say: an undocumented status, media type or field', () => {
    expect(() => checkApiResponse('GET', '/v1/drivers/d1', 418, 'application/json', '{}')).toThrow(/status 418 is not documented/);
    expect(() => checkApiResponse('GET', '/v1/regions', 200, 'text/html', '{}')).toThrow(/content type text\/html/);
    expect(() => checkApiResponse('GET', '/v1/drivers/d1', 404, 'application/json', '{"code":"not_found","message":"no","extra":1}')).toThrow(/does not match/);
    expect(() => checkApiResponse('GET', '/v1/drivers/d1', 404, 'application/json', '{"code":"no_driver","message":"no"}')).toThrow(/does not match/);
    expect(checkApiResponse('GET', '/v1/drivers/d1', 404, 'application/json', '{"code":"not_found","message":"no such driver"}')).toBe(true);
    expect(checkApiResponse('GET', '/nowhere', 404, 'application/json', '{}')).toBe(false);
  });
});
