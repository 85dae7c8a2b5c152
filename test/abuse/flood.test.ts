import { afterAll, describe, expect, it } from 'vitest';
import { ABUSE_KINDS, type AbuseKind, Abuser } from '../../kit/flood/abuser.js';
import { closeAllClients, ping, stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';

/**
 * The flood test (issue 11): one abusive client runs each kind of abuse
 * while other drivers stream. The abuser must be limited (refusals with a
 * limit's code) or closed (4400), and every ack of the others must arrive.
 * How much the others' latency moves is bench:flood's figure (a ratio to
 * a quiet baseline in the same run), not asserted here.
 */

afterAll(async () => {
  await closeAllClients();
  await stopAllGateways();
});

/** Limits low enough that a test-sized (paced) flood reaches them; bench:flood runs the defaults. */
const ENV = { HEXFLEET_HTTP_SERVICE_RATE_PER_SEC: '100', HEXFLEET_HTTP_SERVICE_BURST: '200', HEXFLEET_FRAME_RATE_PER_SEC: '50', HEXFLEET_FRAME_BURST: '200' };
const DRIVERS = 5;
const BATCHES = 30;

/** What shows the abuser was stopped: a close by the bad-frame budget, or a limit's refusal. */
function limited(kind: AbuseKind, s: Abuser['stats']): boolean {
  if (kind === 'http_nearby_20km') return (s.codes['429 too_many_requests'] ?? 0) > 0;
  return (s.closes['4400'] ?? 0) > 0;
}

describe('flood: one abuser, drivers streaming', () => {
  it.each(ABUSE_KINDS)('%s: the abuser is limited or closed, every other driver is acked', async (kind) => {
    const gw = await TestGateway.start(ENV);
    const token = kind === 'http_nearby_20km' ? await gw.serviceToken() : await gw.token('driver', uniqueDriverId('abuser'));
    // Paced so that this process (also the drivers' client) stays responsive; bench:flood runs it unpaced in a process of its own.
    const abuser = new Abuser(kind, { driverUrl: gw.driverUrl, httpUrl: gw.httpUrl, token }, 20);
    abuser.start();
    try {
      const drivers = await Promise.all(Array.from({ length: DRIVERS }, () => gw.connectDriver(uniqueDriverId('honest'))));
      await Promise.all(drivers.map(async (c) => {
        for (let seq = 1; seq <= BATCHES; seq++) {
          const reply = await c.sendBatch([ping(seq)]);
          expect(reply).toMatchObject({ type: 'ack', seq });
        }
      }));
      // The abuse went on during all of it, and was stopped by a limit.
      const { stats } = abuser;
      expect(stats.sent).toBeGreaterThan(0);
      expect(limited(kind, stats), `limited or closed: ${JSON.stringify(stats)}`).toBe(true);
    } finally {
      await abuser.stop();
    }
  });
});
