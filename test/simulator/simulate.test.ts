import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestCa } from '../../kit/test-certs.js';
import { stopAllGateways, TEST_JWT_SECRET, TestGateway } from '../support/gateway-harness.js';

/**
 * `hexfleet simulate` as users run it: `node dist/src/cli.js simulate` (built
 * by the global setup) in a child process, against a real gateway on the
 * memory store started in this process. Every wait is for the child's exit.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = 'dist/src/cli.js';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcessWithoutNullStreams>();

/** Runs the CLI to completion with the test secret and no other hexfleet settings. */
function run(args: string[], env: Record<string, string> = { HEXFLEET_JWT_SECRET: TEST_JWT_SECRET }): Promise<RunResult> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_')) base[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, ...env } });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The value of one `name value` row of the summary. */
function summaryValue(stdout: string, name: string): number {
  const m = new RegExp(`^\\s+${name.replace(/[()/]/g, '\\$&')}\\s+([\\d.]+)$`, 'm').exec(stdout);
  if (!m) throw new Error(`no "${name}" in the summary:\n${stdout}`);
  return Number(m[1]);
}

afterEach(async () => {
  await Promise.all(
    [...children].map((child) => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      return exited;
    }),
  );
});

describe('hexfleet simulate against a gateway (memory store)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    // Offers expire fast enough that a rejected order moves on within the run.
    gw = await TestGateway.start({ HEXFLEET_OFFER_TIMEOUT_MS: '5000' });
  });

  afterAll(stopAllGateways);

  it('drives drivers, matches, offers and tracking for --duration, then exits 0 with a summary', async () => {
    const started = Date.now();
    const r = await run(['simulate', '--drivers', '30', '--orders-per-minute', '600', '--duration', '8', '--seed', '42', '--url', `ws://127.0.0.1:${gw.port}`]);
    expect(r.code, r.stderr).toBe(0);
    // It stopped by itself, after --duration and not long after.
    expect(Date.now() - started).toBeGreaterThanOrEqual(8_000);
    expect(r.stdout).toContain('hexfleet simulate: summary');
    expect(summaryValue(r.stdout, 'pings acked')).toBeGreaterThan(0);
    expect(summaryValue(r.stdout, 'matches ok')).toBeGreaterThan(0);
    expect(summaryValue(r.stdout, 'offers answered')).toBeGreaterThan(0);
    expect(summaryValue(r.stdout, 'positions received')).toBeGreaterThan(0);
    expect(summaryValue(r.stdout, 'subscriptions opened')).toBeGreaterThan(0);
    // Progress lines went to stderr while it ran.
    expect(r.stderr).toMatch(/\[sim\] drivers \d+ open.*pings \d+\/s acked.*match ok \d+ no_driver \d+.*offers \d+ acc\/\d+ rej.*subs \d+.*positions \d+.*buffer \d+ dropped \d+.*errors \d+/);
  }, 60_000);

  it('exits 1 when no gateway answers (nothing acked)', async () => {
    // A port nothing listens on: the gateway was stopped after taking it.
    const dead = await TestGateway.start();
    const port = dead.port;
    await dead.stop();
    const r = await run(['simulate', '--drivers', '2', '--orders-per-minute', '0', '--duration', '2', '--url', `ws://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(summaryValue(r.stdout, 'pings acked')).toBe(0);
  }, 60_000);
});

describe('hexfleet simulate against a TLS gateway (wss://, https://)', () => {
  const ca = TestCa.create('sim');
  let gw: TestGateway;

  beforeAll(async () => {
    const cert = ca.issue('sim-gateway');
    gw = await TestGateway.start({ HEXFLEET_OFFER_TIMEOUT_MS: '5000', HEXFLEET_TLS_CERT_FILE: cert.certFile, HEXFLEET_TLS_KEY_FILE: cert.keyFile });
  });

  afterAll(async () => {
    await stopAllGateways();
    ca.cleanup();
  });

  it('drives drivers (wss), matches (https) and tracking (wss) trusting --ca', async () => {
    const r = await run(['simulate', '--drivers', '10', '--orders-per-minute', '600', '--duration', '5', '--seed', '7', '--url', `wss://localhost:${gw.port}`, '--ca', ca.caFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(summaryValue(r.stdout, 'pings acked')).toBeGreaterThan(0);
    expect(summaryValue(r.stdout, 'matches ok')).toBeGreaterThan(0);
    expect(summaryValue(r.stdout, 'subscriptions opened')).toBeGreaterThan(0);
  }, 60_000);

  it('acks nothing without --ca: the private CA is not in the system store (exit 1)', async () => {
    const r = await run(['simulate', '--drivers', '2', '--orders-per-minute', '0', '--duration', '2', '--url', `wss://localhost:${gw.port}`]);
    expect(r.code).toBe(1);
    expect(summaryValue(r.stdout, 'pings acked')).toBe(0);
  }, 60_000);
});

describe('hexfleet simulate usage', () => {
  it('--help documents every flag', async () => {
    const r = await run(['simulate', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--url', '--drivers', '--orders-per-minute', '--duration', '--bbox', '--seed', '--accept-probability', '--max-open-orders', '--max-tracked', '--progress-interval', '--ca']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('HEXFLEET_JWT_SECRET');
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--url', 'ws://127.0.0.1:1', '--drivers', 'many'], '--drivers'],
    [['--url', 'ws://127.0.0.1:1', '--drivers', '0'], '--drivers'],
    [['--url', 'http://127.0.0.1:1'], '--url'],
    [['--drivers', '5'], '--url'],
    [['--url', 'ws://127.0.0.1:1', '--bbox', '13.5,52.4,13.3,52.6'], '--bbox'],
    [['--url', 'ws://127.0.0.1:1', '--accept-probability', '1.5'], '--accept-probability'],
    [['--url', 'ws://127.0.0.1:1', '--duration', '-3'], '--duration'],
    [['--url', 'wss://127.0.0.1:1', '--ca', '/nonexistent/ca.pem'], '--ca'],
  ])('%j exits 2 naming %s', async (args, flag) => {
    const r = await run(['simulate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(flag);
    expect(r.stdout).not.toContain('summary');
  });

  it('exits 2 without HEXFLEET_JWT_SECRET, naming it', async () => {
    const r = await run(['simulate', '--url', 'ws://127.0.0.1:1'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HEXFLEET_JWT_SECRET');
  });
});
