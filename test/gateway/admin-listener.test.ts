import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../kit/free-port.js';
import { parseMetrics } from '../../kit/metrics-scrape.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { startGateway } from '../../src/gateway/gateway.js';
import { BASE_ENV, startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, UpgradeRefused } from '../support/raw-driver-client.js';

/**
 * /metrics and the details of /readyz are not public: the admin listener
 * (HEXFLEET_ADMIN_PORT on HEXFLEET_ADMIN_HOST) serves them without a token;
 * the public port answers /readyz with its status only, and /metrics only to
 * an admin token. /healthz stays public on both.
 */

afterAll(() => stopAllGateways());

describe('the admin listener', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway('memory');
  });

  it('listens on a port of its own, apart from the public one', () => {
    expect(gw.gateway.adminPort).toBeGreaterThan(0);
    expect(gw.adminPort).not.toBe(gw.port);
  });

  it('serves /metrics (Prometheus text), /readyz with its details and /healthz, without a token', async () => {
    const metrics = await gw.adminGet('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toMatch(/^text\/plain/);
    expect(parseMetrics(metrics.text).series.has('hexfleet_driver_connections')).toBe(true);
    expect(await gw.adminGet('/readyz')).toMatchObject({ status: 200, json: { status: 'ready', store: 'memory' } });
    expect(await gw.adminGet('/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
  });

  it('serves nothing else: the API answers 404 there, even to a valid token, and no WebSocket opens', async () => {
    const r = await httpRequest(gw.adminPort, 'GET', '/v1/drivers/nearby?lat=1&lng=1', { token: await gw.serviceToken() });
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ code: 'not_found' });
    const refused = await RawDriverClient.open(`ws://127.0.0.1:${gw.adminPort}/v1/driver`, { queryToken: await gw.token('driver', 'd-admin-port') })
      .then(async (c) => {
        await c.terminate();
        return undefined;
      }, (err: unknown) => err);
    expect(refused).toBeInstanceOf(UpgradeRefused);
    expect((refused as UpgradeRefused).status).toBe(404);
  });
});

describe('the public port', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway('memory');
  });

  it('answers /healthz to anyone', async () => {
    expect(await gw.get('/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
  });

  it('answers /readyz without a token with the status alone, and with the details to an admin', async () => {
    expect((await gw.get('/readyz')).json).toEqual({ status: 'ready' });
    expect((await gw.get('/readyz', await gw.token('admin', 'ops'))).json).toEqual({ status: 'ready', store: 'memory' });
  });

  it('refuses /readyz details to another role (403) and a bad token (401) rather than ignoring them', async () => {
    expect(await gw.get('/readyz', await gw.serviceToken())).toMatchObject({ status: 403, json: { code: 'forbidden' } });
    expect(await gw.get('/readyz', 'not-a-token')).toMatchObject({ status: 401, json: { code: 'unauthorized' } });
  });

  it('answers /metrics only to an admin with a second factor', async () => {
    expect(await gw.get('/metrics')).toMatchObject({ status: 401, json: { code: 'unauthorized' } });
    expect(await gw.get('/metrics', await gw.serviceToken())).toMatchObject({ status: 403, json: { code: 'forbidden', message: expect.stringContaining('role service') } });
    const noFactor = await gw.tokens.sign({ role: 'admin', sub: 'ops', amr: ['pwd'], authTimeS: Math.floor(Date.now() / 1000) });
    expect(await gw.get('/metrics', noFactor)).toMatchObject({ status: 403, json: { code: 'mfa_required' } });
    const ok = await gw.get('/metrics', await gw.token('admin', 'ops'));
    expect(ok.status).toBe(200);
    expect(parseMetrics(ok.text).series.has('hexfleet_driver_connections')).toBe(true);
  });
});

describe('an unready gateway', () => {
  // A Redis that is not there: the gateway starts anyway and reports it (README, How it fails).
  let gw: TestGateway;
  beforeAll(async () => {
    const port = await freePort();
    // A prefix of its own making: the harness then deletes no keys at stop (there is no Redis to delete them from).
    gw = await startTestGateway('redis', { redisUrl: `redis://127.0.0.1:${port}`, prefix: 'hf-unready', waitReady: false, env: { HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '200' } });
  });

  it('answers 503 on both ports, naming what fails only on the admin port', async () => {
    const pub = await gw.get('/readyz');
    expect(pub.status).toBe(503);
    expect(pub.json).toEqual({ status: 'unready' });
    const admin = await gw.adminGet('/readyz');
    expect(admin.status).toBe(503);
    expect(admin.json).toMatchObject({ status: 'unready', failing: ['redis'] });
  });
});

describe('configuration', () => {
  let squatter: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (squatter ? squatter.close(() => resolve()) : resolve()));
    squatter = undefined;
  });

  it('defaults to port 9091 on loopback; 0 picks a free port, -1 none; anything else is refused naming the variable', () => {
    const config = loadConfig({ HEXFLEET_JWT_SECRET: BASE_ENV.HEXFLEET_JWT_SECRET! });
    expect({ port: config.adminPort, host: config.adminHost }).toEqual({ port: 9091, host: '127.0.0.1' });
    expect(loadConfig({ HEXFLEET_ADMIN_PORT: '-1' }).adminPort).toBe(-1);
    for (const bad of ['-2', '65536', 'x']) {
      expect(() => loadConfig({ HEXFLEET_ADMIN_PORT: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ HEXFLEET_ADMIN_PORT: bad })).toThrow(/HEXFLEET_ADMIN_PORT/);
    }
  });

  it('HEXFLEET_ADMIN_PORT=-1: no admin listener; an admin token still reads /metrics and the details on the public port', async () => {
    const gw = await startTestGateway('memory', { env: { HEXFLEET_ADMIN_PORT: '-1' } });
    expect(gw.gateway.adminPort).toBeUndefined();
    expect((await gw.get('/metrics', await gw.token('admin', 'ops'))).status).toBe(200);
    expect((await gw.get('/readyz', await gw.token('admin', 'ops'))).json).toEqual({ status: 'ready', store: 'memory' });
    await gw.stop();
  });

  it('an admin port already taken stops the start, naming HEXFLEET_ADMIN_PORT, before the public port opens', async () => {
    const taken = await freePort();
    squatter = createServer();
    await new Promise<void>((resolve) => squatter!.listen(taken, '127.0.0.1', resolve));
    const publicPort = await freePort();
    const config = loadConfig({ ...BASE_ENV, PORT: String(publicPort), HEXFLEET_ADMIN_PORT: String(taken) });
    await expect(startGateway(config, pino({ level: 'silent' }))).rejects.toThrow(/HEXFLEET_ADMIN_PORT/);
    // Nothing answers on the public port.
    await expect(httpRequest(publicPort, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
