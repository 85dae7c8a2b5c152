import { afterAll, describe, expect, it } from 'vitest';
import { BackendHosts } from '../support/backends.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, UpgradeRefused } from '../support/raw-driver-client.js';
import { freshPrefix, startRedisGateway, startSharedGateways, tokens } from '../support/redis-gateway.js';
import { redisSuite } from '../support/redis-suite.js';
import { waitFor } from '../support/wait-for.js';
import { revocationStoreContract } from './revocation-store.contract.js';

/**
 * Revocation across gateways on one real Redis: the RevocationStore
 * contract on the memory and Redis engines, then two gateways sharing one
 * Redis — a revocation made through one closes the sockets it covers on the
 * other within a second (4403) and is refused there over HTTP (401
 * token_revoked), and a gateway started afterwards loads it.
 */

const NO_COOLOFF = { HEXFLEET_AUTH_FAILURE_BURST: '0' };
const hosts = new BackendHosts();
afterAll(() => hosts.stop());

revocationStoreContract('memory', hosts);
revocationStoreContract('redis', hosts);

describe('revocation across two gateways on one Redis', () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  it('closes the revoked socket on the other gateway within a second, refuses its token there, and a gateway started later loads it', async () => {
    const { prefix } = freshPrefix(cleanup, suite.server.url);
    const [a, b] = await startSharedGateways(cleanup, suite.server.url, prefix, 2, NO_COOLOFF);
    const driverJwt = await tokens.sign({ role: 'driver', sub: 'drv-revoked' });
    const onB = await RawDriverClient.open(`ws://127.0.0.1:${b!.port}/v1/driver`, { queryToken: driverJwt });
    cleanup.add(() => onB.close());
    const bystander = await RawDriverClient.open(`ws://127.0.0.1:${b!.port}/v1/driver`, { queryToken: await tokens.sign({ role: 'driver', sub: 'drv-other' }) });
    cleanup.add(() => bystander.close());
    const jti = tokens.verify(driverJwt, ['driver']).jti!;

    const admin = await a!.token('admin', 'ops-1');
    const sent = Date.now();
    const r = await httpRequest(a!.port, 'POST', '/v1/admin/revocations', { token: admin, body: { jti } });
    expect(r.status).toBe(200);
    const closed = await onB.closed;
    const latencyMs = Date.now() - sent;
    expect(closed).toEqual({ code: 4403, reason: 'token_revoked' });
    expect(bystander.isOpen).toBe(true);
    // For the report: issue 11 asks for "within a second" (the POST, the Redis write, PUBLISH, B closing).
    console.info(`revocation on A → socket on B closed after ${latencyMs} ms`);

    await expect(RawDriverClient.open(`ws://127.0.0.1:${b!.port}/v1/driver`, { queryToken: driverJwt })).rejects.toMatchObject({ status: 401 });
    const c = await startRedisGateway(cleanup, suite.server.url, prefix, NO_COOLOFF);
    const refused = await RawDriverClient.open(`ws://127.0.0.1:${c.port}/v1/driver`, { queryToken: driverJwt }).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(UpgradeRefused);
    expect(JSON.parse((refused as UpgradeRefused).body).code).toBe('token_revoked');
    const list = await httpRequest(c.port, 'GET', '/v1/admin/revocations', { token: admin });
    expect(list.json.revocations).toEqual([expect.objectContaining({ kind: 'jti', value: jti, by: 'ops-1' })]);
  });

  it('revokes a whole subject on every gateway: HTTP on the other gateway answers 401 token_revoked', async () => {
    const { prefix } = freshPrefix(cleanup, suite.server.url);
    const [a, b] = await startSharedGateways(cleanup, suite.server.url, prefix, 2, NO_COOLOFF);
    const svc = await tokens.sign({ role: 'service', sub: 'svc-leaked' });
    expect((await httpRequest(b!.port, 'GET', '/v1/drivers/nobody', { token: svc })).status).toBe(404);
    const r = await httpRequest(a!.port, 'POST', '/v1/admin/revocations', { token: await a!.token('admin', 'ops-1'), body: { sub: 'svc-leaked' } });
    expect(r.status).toBe(200);
    await waitFor(async () => (await httpRequest(b!.port, 'GET', '/v1/drivers/nobody', { token: svc })).json?.code === 'token_revoked', { what: 'B to refuse the subject' });
  });
});
