import { afterEach, describe, expect, it } from 'vitest';
import { closeAllSdkClients, collectErrors, driverClient } from '../sdk/sdk-harness.js';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The SDK keeps a driver session going across token lifetimes: with a token
 * function, a fresh token goes to the gateway in an `auth` frame shortly
 * before the current one expires (no reconnect, no 4401), against a real
 * gateway in this process.
 */

afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
});

describe('DriverClient token refresh', () => {
  it('sends fresh tokens in auth frames before expiry: the one socket outlives several 4 s tokens', async () => {
    const g = await TestGateway.start({ HEXFLEET_AUTH_FAILURE_BURST: '0' });
    const id = uniqueDriverId();
    let minted = 0;
    const c = driverClient({
      urls: [g.driverUrl],
      token: () => {
        minted++;
        return g.token('driver', id, 4);
      },
      batchMaxDelayMs: 0,
    });
    const errors = collectErrors(c);
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    await waitFor(() => c.state === 'open', { what: 'the client to connect' });
    const openedAt = Date.now();
    // Three token lifetimes on one socket.
    await waitFor(() => Date.now() - openedAt >= 10_000, { what: '10 s to pass', timeoutMs: 30_000, intervalMs: 200 });
    const seq = c.ping({ lat: 52.52, lng: 13.405 });
    await waitFor(() => c.lastAckedSeq === seq, { what: 'the ping to be acked' });
    expect(states).toEqual(['open']);
    expect(minted).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
    expect(await g.metric('hexfleet_driver_disconnects_total', { reason: 'token_expired' })).toBe(0);
  });
});
