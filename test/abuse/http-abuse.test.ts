import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { stopAllGateways, TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';

/**
 * Abuse limits of the HTTP API (issue 11), against a real gateway: request
 * smuggling by conflicting Content-Length, strict query-string numbers, id
 * limits before any lookup, and per-principal rate limits weighted by cost.
 */

afterAll(stopAllGateways);

/** Writes `raw` on a fresh TCP connection; resolves with everything read until the gateway closes it (or `waitMs` of silence). */
function rawHttp(port: number, raw: string, waitMs = 1500): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(raw));
    let text = '';
    let timer = setTimeout(() => done(false), waitMs);
    const done = (closedByServer: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closedByServer });
    };
    s.on('data', (d) => {
      text += d.toString('utf8');
      clearTimeout(timer);
      timer = setTimeout(() => done(false), waitMs);
    });
    s.on('end', () => done(true));
    s.on('error', reject);
  });
}

describe('abuse limits: HTTP', () => {
  /** A request that leaves a trace if it runs: an order (GET /v1/orders/:id/assignment finds it). */
  async function smuggledMatch(gw: TestGateway, orderId: string): Promise<string> {
    const body = JSON.stringify({ orderId, pickup: { lat: 52.5, lng: 13.4 } });
    return `POST /v1/match HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await gw.serviceToken()}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  }

  it('answers conflicting Content-Length headers with 400 bad_request and closes the connection', async () => {
    const gw = await TestGateway.start();
    const smuggled = await smuggledMatch(gw, 'smuggled-late');
    const head = `POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: ${3 + smuggled.length}\r\n\r\n{}\n`;
    // The rest arrives after the answer: the connection is closed by then.
    const { text, closedByServer } = await new Promise<{ text: string; closedByServer: boolean }>((resolve, reject) => {
      const s = connect(gw.port, '127.0.0.1', () => {
        s.write(head);
        setTimeout(() => s.write(smuggled, () => undefined), 300);
      });
      let t = '';
      s.on('data', (d) => (t += d.toString('utf8')));
      s.on('end', () => resolve({ text: t, closedByServer: true }));
      s.on('error', (e) => (t ? resolve({ text: t, closedByServer: true }) : reject(e)));
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain('"code":"bad_request"');
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(closedByServer).toBe(true);
    expect((await httpRequest(gw.port, 'GET', '/v1/orders/smuggled-late/assignment', { token: await gw.serviceToken() })).status).toBe(404);
  });

  it('never runs a request smuggled behind conflicting Content-Length headers in the same packet', async () => {
    const gw = await TestGateway.start();
    const smuggled = await smuggledMatch(gw, 'smuggled-1');
    // uWS would read 3 bytes of body and run the rest as a second request on the connection.
    const raw = `POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: ${3 + smuggled.length}\r\n\r\n{}\n${smuggled}`;
    const { text, closedByServer } = await rawHttp(gw.port, raw);
    // The connection is dropped before any answer (uWS aborts a connection that pipelines behind a pending response).
    expect(closedByServer).toBe(true);
    expect(text).not.toContain('200 OK');
    expect(text).not.toContain('404 Not Found');
    expect((await httpRequest(gw.port, 'GET', '/v1/orders/smuggled-1/assignment', { token: await gw.serviceToken() })).status).toBe(404);
  });

  it('takes a repeated Content-Length with the same value as one', async () => {
    const gw = await TestGateway.start();
    const { text } = await rawHttp(gw.port, 'POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}', 500);
    expect(text).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
  });

  it.each([
    ['lat=0x10&lng=1', 'lat', '0x10'],
    ['lat=%20&lng=1', 'lat', ' '],
    ['lat=1&lng=%201', 'lng', ' 1'],
    ['lat=1&lng=1&radius=%20', 'radius', ' '],
    ['lat=1&lng=1&limit=0b11', 'limit', '0b11'],
    ['lat=1&lng=Infinity', 'lng', 'Infinity'],
    ['lat=1e400&lng=1', 'lat', '1e400'],
  ])('parses query numbers strictly: %s is invalid_parameter naming %s', async (query, name, shown) => {
    const gw = await TestGateway.start();
    const res = await gw.get(`/v1/drivers/nearby?${query}`, await gw.serviceToken());
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: 'invalid_parameter', message: expect.stringMatching(new RegExp(`^${name} must be a decimal number in \\[-?\\d+, \\d+\\], got "${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"$`)) });
  });

  it('still takes decimals as people write them', async () => {
    const gw = await TestGateway.start();
    const res = await gw.get('/v1/drivers/nearby?lat=-52.5&lng=.5&radius=1e3&limit=2', await gw.serviceToken());
    expect(res.status).toBe(200);
  });

  it('refuses over-long ids in paths, bodies and headers with id_too_long before any lookup, never quoting them', async () => {
    const gw = await TestGateway.start();
    const token = await gw.serviceToken();
    const long = 'z'.repeat(129);
    const answers = [
      await httpRequest(gw.port, 'GET', `/v1/drivers/${long}`, { token }),
      await httpRequest(gw.port, 'GET', `/v1/orders/${long}/assignment`, { token }),
      await httpRequest(gw.port, 'POST', `/v1/orders/${long}/cancel`, { token }),
      await httpRequest(gw.port, 'POST', `/v1/orders/${long}/tracking-token`, { token }),
      await httpRequest(gw.port, 'POST', '/v1/match', { token, body: { orderId: long, pickup: { lat: 1, lng: 1 } } }),
      await httpRequest(gw.port, 'POST', '/v1/match', { token, body: { orderId: 'o-1', pickup: { lat: 1, lng: 1 } }, headers: { 'idempotency-key': long } }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('id_too_long');
      expect(res.json.message).toMatch(/is 129 characters long; at most 128$/);
      expect(res.text).not.toContain('zzzzzzzzzz');
    }
  });

  it('limits each principal by cost: a 20 km nearby costs 20 times a 1 km one; 429 too_many_requests with Retry-After; others keep their own budget', async () => {
    const gw = await TestGateway.start({ HEXFLEET_HTTP_SERVICE_RATE_PER_SEC: '1', HEXFLEET_HTTP_SERVICE_BURST: '25' });
    const a = await gw.token('service', 'svc-a');
    const near = (radius: number, token: string) => gw.get(`/v1/drivers/nearby?lat=52.5&lng=13.4&radius=${radius}`, token);
    expect((await near(20_000, a)).status).toBe(200);
    const refused = await near(20_000, a);
    expect(refused.status).toBe(429);
    expect(refused.json.code).toBe('too_many_requests');
    // 15 tokens short at 1/s, less what refilled since the first query (a busy machine takes a while between them).
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(15);
    // What is left (about 5) still pays for 1 km queries.
    expect((await near(1000, a)).status).toBe(200);
    expect((await near(1000, a)).status).toBe(200);
    // Another service has its own budget.
    expect((await near(20_000, await gw.token('service', 'svc-b'))).status).toBe(200);
    // A request dearer than the burst is refused with a message that says so.
    const tooDear = await gw.get('/v1/drivers/nearby?lat=52.5&lng=13.4&radius=20000', a);
    expect(tooDear.status).toBe(429);
  });

  it('refuses a request dearer than the whole burst, saying so', async () => {
    const gw = await TestGateway.start({ HEXFLEET_HTTP_SERVICE_RATE_PER_SEC: '100', HEXFLEET_HTTP_SERVICE_BURST: '10' });
    const res = await gw.get('/v1/drivers/nearby?lat=52.5&lng=13.4&radius=20000', await gw.serviceToken());
    expect(res.status).toBe(429);
    expect(res.json.message).toBe('this request costs 20, more than the burst of 10 this token may spend at once; ask for less (e.g. a smaller radius)');
  });
});
