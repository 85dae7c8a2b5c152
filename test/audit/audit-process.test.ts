import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stopProcess, track } from '../../kit/child-processes.js';
import { unusedFixedPort } from '../../kit/free-port.js';
import { GatewayProcess } from '../../kit/gateway-process.js';
import { CLI_PATH, REPO_ROOT } from '../../kit/repo-root.js';
import { TEST_JWT_SECRET } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { waitFor } from '../support/wait-for.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hexfleet-audit-proc-'));
const jsonLines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
const BASE = { HEXFLEET_STORE: 'memory', HEXFLEET_JWT_SECRET: TEST_JWT_SECRET, HEXFLEET_ADMIN_PORT: '-1' };

/** The environment of a hexfleet command: the parent's minus every hexfleet variable, plus `env`. */
function envOf(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_') && k !== 'PORT' && k !== 'REDIS_URL') out[k] = v;
  return { ...out, ...env };
}

/** `hexfleet serve` as deployed (dist/, its own process): the file sink and logrotate's SIGHUP, stdout kept for audit lines, the CLI's token minting. */
describe('audit trail of hexfleet processes', () => {
  let gateway: GatewayProcess | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    if (child) await stopProcess(child);
    child = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends to HEXFLEET_AUDIT_LOG and, on SIGHUP, reopens it (logrotate moved it away)', async () => {
    const file = join(dir, 'rotate.log');
    gateway = await GatewayProcess.start({ name: 'audit-file', env: { ...BASE, HEXFLEET_AUDIT_LOG: file } });
    expect((await httpRequest(gateway.port, 'GET', '/v1/drivers/nearby?lat=1&lng=1')).status).toBe(401);
    await waitFor(() => existsSync(file) && jsonLines(readFileSync(file, 'utf8')).some((l) => l.event.action === 'auth.rejected'), { what: 'the first line' });
    expect(jsonLines(readFileSync(file, 'utf8')).map((l) => l.event.action)).toEqual(['config.start', 'auth.rejected']);

    renameSync(file, `${file}.1`);
    process.kill(gateway.pid, 'SIGHUP');
    // Lines written before the reopen still go to the renamed file (the new one may exist, empty, a moment before): ask until one lands in it.
    await waitFor(async () => {
      expect((await httpRequest(gateway!.port, 'GET', '/v1/drivers/nearby?lat=2&lng=2')).status).toBe(401);
      return existsSync(file) && readFileSync(file, 'utf8').includes('auth.rejected');
    }, { what: 'a line in a new file after SIGHUP', intervalMs: 100 });
    gateway.assertAlive();
    const fresh = jsonLines(readFileSync(file, 'utf8'));
    expect(fresh.length).toBeGreaterThanOrEqual(1);
    expect(fresh.every((l) => l.event.action === 'auth.rejected' && l.url.path === '/v1/drivers/nearby')).toBe(true);
    const rotated = jsonLines(readFileSync(`${file}.1`, 'utf8'));
    expect(rotated[0]!.event.action).toBe('config.start');
    expect(rotated.length + fresh.length).toBeGreaterThanOrEqual(3);
  });

  it('with HEXFLEET_AUDIT_LOG=-, stdout carries only audit lines and the operational log goes to stderr', async () => {
    const port = await unusedFixedPort();
    child = spawn(process.execPath, [CLI_PATH, 'serve'], {
      cwd: REPO_ROOT, env: envOf({ ...BASE, PORT: String(port), HEXFLEET_HOST: '127.0.0.1', HEXFLEET_AUDIT_LOG: '-', HEXFLEET_LOG_LEVEL: 'info' }), stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => stderr.includes('hexfleet gateway listening'), { what: `the gateway to listen; stderr: ${stderr}` });
    expect((await httpRequest(port, 'POST', '/v1/orders/o-1/cancel')).status).toBe(401);
    await waitFor(() => stdout.includes('auth.rejected'), { what: 'the audit line on stdout' });
    const lines = jsonLines(stdout);
    expect(lines.map((l) => l.event.action)).toEqual(['config.start', 'auth.rejected']);
    for (const l of lines) expect(typeof l['@timestamp']).toBe('string');
    // pino's lines: on stderr, none of them an audit line.
    const ops = jsonLines(stderr);
    expect(ops.some((l) => l.msg?.includes('hexfleet gateway listening'))).toBe(true);
    expect(ops.every((l) => l.event === undefined && typeof l.level === 'number')).toBe(true);
  });

  it('hexfleet token records token.mint in the trail (stderr for -), never the token', async () => {
    const file = join(dir, 'cli.log');
    const minted = await run(process.execPath, [CLI_PATH, 'token', '--role', 'driver', '--sub', 'drv-cli', '--ttl', '600'], { env: envOf({ ...BASE, HEXFLEET_AUDIT_LOG: file }) });
    const token = minted.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const [line] = jsonLines(readFileSync(file, 'utf8'));
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti;
    expect(line).toMatchObject({ event: { action: 'token.mint', outcome: 'success' }, target: { type: 'token', id: jti }, hexfleet: { via: 'cli', role: 'driver', sub: 'drv-cli' } });
    expect(typeof line!.user.id).toBe('string');
    expect(readFileSync(file, 'utf8')).not.toContain(token.split('.')[2]);

    const dash = await run(process.execPath, [CLI_PATH, 'token', '--role', 'service', '--sub', 'svc-cli'], { env: envOf({ ...BASE, HEXFLEET_AUDIT_LOG: '-' }) });
    expect(dash.stdout.trim().split('\n')).toHaveLength(1);
    const audit = jsonLines(dash.stderr).filter((l) => l.event?.action === 'token.mint');
    expect(audit).toHaveLength(1);
    expect(dash.stderr).not.toContain(dash.stdout.trim());
  });
});
