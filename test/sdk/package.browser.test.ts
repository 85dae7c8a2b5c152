import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../kit/repo-root.js';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { launchChromium } from '../support/launch-chromium.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The SDK's browser entry running in a real browser (Debian's Chromium driven
 * by playwright-core) against a real gateway: bundled by esbuild for the
 * browser platform, as an app's bundler would, so msgpackr's browser build and
 * the browser's own WebSocket carry the frames. test/sdk/package.test.ts checks
 * the packed package resolves to this entry under the browser condition.
 */

let browser: Browser | undefined;
let bundle: string;
let page: Page | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  const out = await build({
    entryPoints: [join(REPO_ROOT, 'src/sdk/index.ts')], bundle: true, platform: 'browser', format: 'iife', globalName: 'hexfleet',
    target: 'es2022', write: false, logLevel: 'silent',
  });
  bundle = out.outputFiles[0]!.text;
});

afterEach(async () => {
  // Closing the page closes its sockets; the gateway then sees the clients go.
  await page?.close();
  page = undefined;
  await stopAllGateways();
});

afterAll(async () => {
  await browser?.close();
});

/** What the page recorded: `[event, value]` pairs pushed by the clients' handlers. */
async function events(p: Page): Promise<[string, unknown][]> {
  return p.evaluate(() => (globalThis as any).events as [string, unknown][]);
}

describe('@hexfleet/sdk in Chromium', () => {
  it('a DriverClient streams msgpack pings, is acked and accepts an offer; a TrackingClient follows the order', async () => {
    const g = await TestGateway.start({ HEXFLEET_OFFER_TIMEOUT_MS: '600000' });
    const driverId = uniqueDriverId('browser');
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    page = await browser!.newPage();
    await page.addScriptTag({ content: bundle });
    expect(await page.evaluate(() => [typeof (globalThis as any).process, typeof (globalThis as any).hexfleet.DriverClient])).toEqual(['undefined', 'function']);

    await page.evaluate(({ url, token }) => {
      const g = globalThis as any;
      g.events = [];
      const driver = new g.hexfleet.DriverClient({ urls: [url], token, batchMaxDelayMs: 0 });
      g.driver = driver;
      driver.on('ack', (seq: number) => g.events.push(['ack', seq]));
      driver.on('error', (e: { code: string }) => g.events.push(['error', e.code]));
      driver.onOffer(async (o: { orderId: string }) => {
        g.events.push(['offer', o.orderId]);
        g.events.push(['reply', await driver.accept(o.orderId)]);
      });
      let step = 0;
      g.pinger = setInterval(() => driver.ping({ lat: -35.2 + step++ * 1e-4, lng: 18.45, status: 'available' }), 200);
    }, { url: g.driverUrl, token: await g.token('driver', driverId) });
    await waitFor(async () => (await events(page!)).some(([e]) => e === 'ack'), { what: 'an ack in the page' });

    const service = await g.serviceToken();
    const match = await httpRequest(g.port, 'POST', '/v1/match', { token: service, body: { orderId, pickup: { lat: -35.199, lng: 18.45 }, radiusM: 3000 } });
    expect(match.status, match.text).toBe(200);
    expect(match.json).toMatchObject({ driverId });
    await waitFor(async () => (await events(page!)).some(([e, v]) => e === 'reply' && v === 'accepted'), { what: 'the offer accepted in the page' });

    const customer = await g.tokens.sign({ role: 'customer', sub: `c-${randomUUID().slice(0, 6)}`, orders: [orderId] });
    await page.evaluate(({ url, token, orderId }) => {
      const g = globalThis as any;
      const tracking = new g.hexfleet.TrackingClient({ urls: [url], token });
      g.tracking = tracking;
      tracking.on('status', (s: { state: string }) => g.events.push(['status', s.state]));
      tracking.on('position', (p: { lat: number }) => g.events.push(['position', p.lat]));
      tracking.on('assignment', (a: { event: string }) => g.events.push(['assignment', a.event]));
      tracking.subscribe(orderId);
    }, { url: g.driverUrl.replace('/v1/driver', '/v1/track'), token: customer, orderId });
    await waitFor(async () => (await events(page!)).filter(([e]) => e === 'position').length >= 3, { what: 'three positions in the page' });
    const done = await httpRequest(g.port, 'POST', `/v1/orders/${orderId}/complete`, { token: service });
    expect(done.status, done.text).toBe(200);
    await waitFor(async () => (await events(page!)).some(([e, v]) => e === 'assignment' && v === 'completed'), { what: 'the completion in the page' });

    const seen = await events(page);
    expect(seen.filter(([e]) => e === 'error')).toEqual([]);
    expect(seen.find(([e]) => e === 'status')).toEqual(['status', 'live']);
    // Positions in the page only ever move north: the tracking client shows none older than one shown.
    const lats = seen.filter(([e]) => e === 'position').map(([, v]) => v as number);
    expect(lats).toEqual([...lats].sort((a, b) => a - b));
    // The gateway stored what the page sent: the driver's last acked ping is the one the API reads.
    const lastAcked = await page.evaluate(() => (globalThis as any).driver.lastAckedSeq as number);
    await page.evaluate(() => clearInterval((globalThis as any).pinger));
    const stored = await g.driver(driverId);
    expect(stored.status).toBe(200);
    expect(stored.json.seq).toBeGreaterThanOrEqual(lastAcked);
    await page.evaluate(async () => {
      const g = globalThis as any;
      await Promise.all([g.driver.close(), g.tracking.close()]);
    });
  });
});
