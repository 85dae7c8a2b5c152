import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedFixedPort } from '../../kit/free-port.js';
import { BERLIN_BBOX } from '../../src/simulator/city-area.js';
import { stopAllGateways, TEST_JWT_SECRET, TestGateway } from '../support/gateway-harness.js';
import { launchChromium } from '../support/launch-chromium.js';
import type { RawDriverClient } from '../support/raw-driver-client.js';

/**
 * The operations map (/ops) in a real browser: Debian's Chromium driven by
 * playwright-core, against a gateway (memory store, in this process) fed by
 * `hexfleet simulate` (dist/, built by the global setup) in a child process.
 * The page mirrors what it has drawn in data-* attributes; every wait is for
 * one of them. The screenshot it takes is the one the README shows: it goes to
 * a temporary file, and replaces docs/ops-map.png only with
 * HEXFLEET_UPDATE_SCREENSHOT=1 (a test run leaves the tracked tree as it was).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCREENSHOT = process.env.HEXFLEET_UPDATE_SCREENSHOT === '1' ? `${ROOT}docs/ops-map.png` : join(tmpdir(), `hexfleet-ops-map-${process.pid}.png`);
/** A tracked driver is degraded after this much silence: short, so the test sees one turn amber. */
const DEGRADED_MS = 4000;
/** Generous: the machine is shared, and the first offers need drivers online and orders placed. */
const WAIT_MS = 45_000;

let gw: TestGateway;
let sim: ChildProcessWithoutNullStreams | undefined;
let simOutput = '';
let browser: Browser | undefined;
let page: Page;
let silent: RawDriverClient | undefined;

beforeAll(async () => {
  // Fails at once, saying how to get it, without Chromium.
  browser = await launchChromium();
  // A second region that never answers: the page lists both, the other one unreachable.
  const deadPort = await unusedFixedPort();
  gw = await TestGateway.start({
    HEXFLEET_OFFER_TIMEOUT_MS: '5000',
    HEXFLEET_DEGRADED_MS: String(DEGRADED_MS),
    HEXFLEET_REGION: 'eu',
    HEXFLEET_REGION_ENDPOINTS: `eu=http://127.0.0.1:1,us=http://127.0.0.1:${deadPort}`,
    HEXFLEET_REGION_PROBE_INTERVAL_MS: '500',
    HEXFLEET_REGION_PROBE_TIMEOUT_MS: '200',
  });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_')) env[k] = v;
  env.HEXFLEET_JWT_SECRET = TEST_JWT_SECRET;
  sim = spawn(process.execPath, [
    'dist/src/cli.js', 'simulate', '--url', `ws://127.0.0.1:${gw.port}`, '--drivers', '40', '--orders-per-minute', '240',
    '--accept-probability', '0.9', '--seed', '13', '--duration', '300', '--progress-interval', '5',
  ], { cwd: ROOT, env });
  sim.stdout.on('data', (d: Buffer) => (simOutput += d.toString()));
  sim.stderr.on('data', (d: Buffer) => (simOutput += d.toString()));
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const admin = await gw.token('admin', 'ops-map-test');
  await page.goto(`${gw.httpUrl}/ops#token=${encodeURIComponent(admin)}&bbox=${BERLIN_BBOX.join(',')}`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (sim && sim.exitCode === null) {
    const exited = new Promise((r) => sim!.once('exit', r));
    sim.kill('SIGKILL');
    await exited;
  }
  await silent?.terminate();
  await stopAllGateways();
});

/** Waits for a condition on the page; says what the page and the simulator showed when it does not come. */
async function waitOnPage(what: string, fn: string): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout: WAIT_MS, polling: 100 });
  } catch (err) {
    // Expressions as strings: they run in the page, and this project's compiler knows no DOM.
    const body = await page.evaluate(`({ ...document.body.dataset, error: document.getElementById('error')?.textContent })`);
    throw new Error(`${what}: not seen in ${WAIT_MS} ms (${(err as Error).message.split('\n')[0]}); page ${JSON.stringify(body)}; simulator:\n${simOutput.slice(-1500)}`);
  }
}

const attr = (name: string): Promise<string | undefined> => page.evaluate(`document.body.dataset[${JSON.stringify(name)}]`);

describe('the operations map at /ops in Chromium, with the simulator driving', () => {
  it('draws drivers moving live on the admin area subscription, with H3 cells and their counts', async () => {
    await waitOnPage('tracking socket open', `document.body.dataset.ws === 'open'`);
    await waitOnPage('10 drivers drawn, 5 of them seen moving', `Number(document.body.dataset.driversDrawn) >= 10 && Number(document.body.dataset.driversMoved) >= 5`);
    expect(Number(await attr('driversLive'))).toBeGreaterThanOrEqual(10);
    expect(Number(await attr('cellsDrawn'))).toBeGreaterThanOrEqual(1);
    // The counts are drawn from h3-js served by the gateway itself (no CDN).
    const h3 = await page.request.get(`${gw.httpUrl}/ops/h3-js.es.js`);
    expect(h3.status()).toBe(200);
    expect(h3.headers()['content-type']).toContain('text/javascript');
  });

  it('shows a driver that went silent as degraded', async () => {
    silent = await gw.connectDriver('ops-silent-driver');
    const [w, s, e, n] = BERLIN_BBOX;
    silent.sendPings([{ seq: 1, lat: (s + n) / 2, lng: (w + e) / 2, ts: Date.now(), status: 'available' }]);
    await silent.waitForAck(1);
    await waitOnPage('the silent driver degraded', `Number(document.body.dataset.driversDegraded) >= 1`);
  });

  it('shows offers as they happen and an open order with its assigned driver and ETA', async () => {
    await waitOnPage('an offer in the feed', `Number(document.body.dataset.offersSeen) >= 1 && document.querySelector('#ops-events li[data-type="offered"]') !== null`);
    await waitOnPage('an accepted order whose driver is drawn', `document.querySelector('#ops-orders li[data-state="accepted"][data-driver-drawn="true"]') !== null`);
    const row = await page.evaluate<{ orderId: string; driverId: string; etaS: string | undefined; text: string }>(`(() => {
      const li = document.querySelector('#ops-orders li[data-state="accepted"][data-driver-drawn="true"]');
      return { orderId: li.dataset.orderId, driverId: li.dataset.driverId, etaS: li.dataset.etaS, text: li.textContent };
    })()`);
    expect(row.text).toContain(row.driverId);
    expect(row.text).toMatch(/ETA \d+:\d\d/);
    expect(Number(row.etaS)).toBeGreaterThanOrEqual(0);
    // The engine agrees: that driver accepted that order (it may have completed since).
    const assignment = await gw.get(`/v1/orders/${encodeURIComponent(row.orderId)}/assignment`, await gw.serviceToken());
    expect(assignment.status).toBe(200);
    expect(assignment.json.history).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'accepted', driverId: row.driverId })]));
  });

  it('lists the regions when there are several, the unreachable one marked', async () => {
    await waitOnPage('two regions, us unreachable', `document.querySelectorAll('#ops-regions li').length === 2 && document.querySelector('#ops-regions li[data-region="us"][data-reachable="false"]') !== null`);
    expect(await page.isVisible('#regions-panel')).toBe(true);
  });

  it('saves the screenshot the README shows', async () => {
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
    if (!SCREENSHOT.startsWith(ROOT)) rmSync(SCREENSHOT);
  });
});
