import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { ping, startTestGateway, stopAllGateways, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';

/**
 * The contract test: schemathesis (PyPI) reads the running gateway's
 * /openapi.json, generates requests for every operation (valid and invalid
 * parameters and bodies) and checks every answer: no 5xx, and each answer's
 * status, media type, headers and body as the document describes them.
 *
 * Runs against a memory gateway with an admin token (operators may call every
 * route) and one driver streaming, so the reads find something. Bounded:
 * a fixed seed, a few examples per operation, one worker, a time budget.
 * schemathesis comes from `.ci/run` (a venv in .venv/); elsewhere set
 * HEXFLEET_SCHEMATHESIS to its executable. Without it the test fails, saying so.
 */

const ROOT = join(import.meta.dirname, '../..');
/** Examples per operation and the run's time budget: about 30 s on the 2-core CI machine. */
const MAX_EXAMPLES = 20;
/**
 * Examples (none in the document yet), coverage (boundary and invalid values of every parameter and body field,
 * undocumented methods) and fuzzing. Not the stateful phase: its chains of calls are not bounded by max-examples
 * (over two minutes here) and its checks are the same ones.
 */
const PHASES = ['examples', 'coverage', 'fuzzing'];
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_headers_conformance', 'response_schema_conformance'];

function schemathesisPath(): string {
  const candidates = [process.env.HEXFLEET_SCHEMATHESIS, join(ROOT, '.venv/bin/schemathesis')].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `schemathesis not found (looked for ${candidates.join(', ')}). Install it as .ci/run does: ` +
      '`python3 -m venv .venv && .venv/bin/pip install "schemathesis>=4.32,<5"` (Debian: apt-get install python3-venv first), ' +
      'or set HEXFLEET_SCHEMATHESIS to a schemathesis executable.',
    );
  }
  return found;
}

/** Runs in `cwd` (schemathesis keeps a cache of failures in ./.schemathesis: a temporary folder, not the work tree). */
function run(cmd: string, args: string[], cwd: string, signal: AbortSignal): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, signal, killSignal: 'SIGKILL', env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_HOOKS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

let tg: TestGateway;
beforeAll(async () => {
  // No cool-off: generated requests with broken tokens must not get the address refused for the rest of the run.
  tg = await startTestGateway('memory', { env: { HEXFLEET_AUTH_COOLOFF_MS: '0', HEXFLEET_HTTP_USER_RATE_PER_SEC: '100000', HEXFLEET_HTTP_USER_BURST: '100000' } });
  const driver = await tg.connectDriver(uniqueDriverId('contract'));
  driver.sendPings([ping(1, { lat: 0, lng: 0 })]);
  await driver.waitForAck(1);
});
afterAll(stopAllGateways);

it('schemathesis finds no 5xx and no answer that departs from /openapi.json', async () => {
  const st = schemathesisPath();
  const admin = await tg.token('admin', 'contract-ops', 3600);
  const cwd = mkdtempSync(join(tmpdir(), 'hexfleet-schemathesis-'));
  // A run cut short (the test's timeout) takes its process with it.
  const stop = new AbortController();
  onTestFinished(() => {
    stop.abort();
    rmSync(cwd, { recursive: true, force: true });
  });
  const { code, output } = await run(st, [
    '--config-file', join(ROOT, 'test/http/contract.schemathesis.toml'),
    'run', `${tg.httpUrl}/openapi.json`,
    '--checks', CHECKS.join(','),
    '--max-examples', String(MAX_EXAMPLES),
    '--phases', PHASES.join(','),
    '--seed', '13',
    '--workers', '1',
    '--generation-database', 'none',
    '--request-timeout', '10',
    '--no-color',
    '-H', `Authorization: Bearer ${admin}`,
  ], cwd, stop.signal);
  expect(code, output).toBe(0);
  // A run that tested nothing is no pass: every operation of the document was tested, with cases that passed.
  const summary = output.slice(output.lastIndexOf('SUMMARY'));
  const selected = /Selected: (\d+)\/(\d+)/.exec(summary);
  expect(selected, summary).not.toBeNull();
  expect(summary, summary).toContain(`Tested: ${selected![2]}`);
  expect(Number(/(\d+) passed/.exec(summary)?.[1] ?? 0), summary).toBeGreaterThan(100);
  console.log(`schemathesis ${summary}`);
}, 120_000);
