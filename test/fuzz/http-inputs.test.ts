import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllGateways, TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { anyValue, checkHttp, encodeQuery, fcParams, nastyNumber, nastyString, progress, runsFor } from './fuzz-support.js';

/**
 * Property-based fuzzing of the HTTP API against a real gateway: hostile
 * query strings (nearby), path ids, match bodies and headers. Whatever comes
 * in, the answer is never a 5xx, every error carries a code of the table
 * with a bounded message, and an order the gateway accepted reads back with
 * only valid values.
 */

afterAll(stopAllGateways);

const ENV = { HEXFLEET_HTTP_SERVICE_RATE_PER_SEC: '10000000', HEXFLEET_HTTP_SERVICE_BURST: '100000000' };

/** A query-string value as a client might send it: encoded, or raw when it is safe in a URL. */
const queryValue = fc.oneof(
  nastyString.map(encodeQuery),
  nastyNumber.map((n) => encodeQuery(String(n))),
  fc.constantFrom('0x10', '0b1', '1e3', '%20', '+1', '1_000', '.5', '5.', '-', '', '%', '%zz', '1%00'),
);

const nearbyQuery = fc
  .dictionary(fc.oneof(fc.constantFrom('lat', 'lng', 'radius', 'limit', 'includeStale', 'status'), fc.string({ maxLength: 8 }).map(encodeQuery)), queryValue, { maxKeys: 7 })
  .map((q) => Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&'));

const point = fc.oneof(fc.record({ lat: fc.oneof(fc.double({ min: -90, max: 90, noNaN: true }), nastyNumber), lng: fc.oneof(fc.double({ min: -180, max: 180, noNaN: true }), nastyNumber) }, { requiredKeys: [] }), anyValue);
const matchBody = fc.oneof(
  { weight: 3, arbitrary: fc.record({ orderId: fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,20}$/), nastyString, anyValue), pickup: point, dropoff: point, radiusM: fc.oneof(fc.integer({ min: 1, max: 30_000 }), nastyNumber, anyValue), mode: fc.oneof(fc.constantFrom('immediate', 'batch'), anyValue), requirements: anyValue }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: anyValue },
);

type Case =
  | { kind: 'nearby'; query: string }
  | { kind: 'driver' | 'assignment' | 'cancel'; id: string }
  | { kind: 'match'; body: unknown; raw: string | undefined; key: string | undefined };

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 3, arbitrary: nearbyQuery.map((query) => ({ kind: 'nearby' as const, query })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('driver' as const, 'assignment' as const, 'cancel' as const), id: fc.oneof(nastyString.map(encodeQuery), fc.constantFrom('%', '%zz', '%E0%A4%A', 'a'.repeat(300))) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('match' as const), body: matchBody, raw: fc.option(fc.string({ maxLength: 100 }), { nil: undefined, freq: 8 }), key: fc.option(fc.stringMatching(/^[\x21-\x7e]{0,200}$/), { nil: undefined }) }) },
);

describe('fuzz: HTTP query strings, paths and bodies', () => {
  let gw: TestGateway;
  let token: string;
  beforeAll(async () => {
    gw = await TestGateway.start(ENV);
    token = await gw.serviceToken();
  });

  it('never answers 5xx, always with a table code, and stores only valid orders', async () => {
    const runs = runsFor(200, 0.3);
    const tick = progress('http', runs);
    const accepted = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        let res;
        switch (c.kind) {
          case 'nearby':
            res = await httpRequest(gw.port, 'GET', `/v1/drivers/nearby?${c.query}`, { token });
            break;
          case 'driver':
            res = await httpRequest(gw.port, 'GET', `/v1/drivers/${c.id}`, { token });
            break;
          case 'assignment':
            res = await httpRequest(gw.port, 'GET', `/v1/orders/${c.id}/assignment`, { token });
            break;
          case 'cancel':
            res = await httpRequest(gw.port, 'POST', `/v1/orders/${c.id}/cancel`, { token });
            break;
          case 'match': {
            const body = c.raw ?? JSON.stringify(c.body) ?? 'null';
            res = await httpRequest(gw.port, 'POST', '/v1/match', { token, body, headers: c.key === undefined ? {} : { 'idempotency-key': c.key } });
            const orderId = (res.json as { orderId?: unknown } | undefined)?.orderId;
            if ((res.status === 200 || res.status === 404) && typeof orderId === 'string') accepted.add(orderId);
            break;
          }
        }
        checkHttp(res.status, res.json, `${c.kind} ${JSON.stringify(c).slice(0, 200)}`);
        tick();
      }),
      fcParams(runs),
    );
    // What was accepted reads back with a valid request.
    for (const orderId of [...accepted].slice(0, 200)) {
      const res = await httpRequest(gw.port, 'GET', `/v1/orders/${encodeQuery(orderId)}/assignment`, { token });
      expect(res.status).toBe(200);
      const { request } = res.json as { request: { pickup: { lat: number; lng: number }; radiusM: number } };
      expect(Math.abs(request.pickup.lat)).toBeLessThanOrEqual(90);
      expect(Math.abs(request.pickup.lng)).toBeLessThanOrEqual(180);
      expect(request.radiusM > 0 && request.radiusM <= gw.config.nearbyMaxRadiusM).toBe(true);
    }
  });
});
