import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { stopProcess, track } from '../../kit/child-processes.js';
import { unusedFixedPort } from '../../kit/free-port.js';
import { httpGet } from '../../kit/http-get.js';
import { RedisServer } from '../../kit/redis-server.js';
import { CLI_PATH, REPO_ROOT } from '../../kit/repo-root.js';

/**
 * `hexfleet serve` pointed at a Redis port where nothing listens: readiness
 * names the cause, and the log says each failing task once (not four times
 * a second), then once again when Redis appears and it recovers.
 */

interface Line { level: number; msg: string; err?: string; failures?: number }

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function serve(env: Record<string, string>): { child: ChildProcess; lines: Line[]; until: (m: (l: Line) => boolean, what: string) => Promise<void> } {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_') && !['PORT', 'REDIS_URL', 'UWS_USE_FALLBACK'].includes(k)) clean[k] = v;
  const child = spawn(process.execPath, [CLI_PATH, 'serve'], { cwd: REPO_ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  cleanup.push(() => stopProcess(child, 'SIGKILL'));
  const lines: Line[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      try {
        lines.push(JSON.parse(buffered.slice(0, nl)) as Line);
      } catch {
        // not a log line
      }
      buffered = buffered.slice(nl + 1);
    }
  });
  const until = async (match: (l: Line) => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 45_000;
    while (!lines.some(match)) {
      if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}) before ${what}; stderr: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within 45 s; log:\n${lines.map((l) => l.msg).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, lines, until };
}

describe('a gateway whose Redis does not answer', () => {
  it('readiness says "Redis at host:port: connection refused", each failing task logs once, and once more on recovery', async () => {
    const redisPort = await unusedFixedPort();
    const port = await unusedFixedPort();
    const adminPort = await unusedFixedPort();
    const gw = serve({
      HEXFLEET_JWT_SECRET: 'a-redis-unreachable-test-secret-0123456789',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PORT: String(port), HEXFLEET_HOST: '127.0.0.1', HEXFLEET_ADMIN_PORT: String(adminPort), HEXFLEET_ADMIN_HOST: '127.0.0.1',
    });
    // It listens after waiting up to 5 s for the revocations: deadline polls (every 250 ms) have been failing meanwhile.
    await gw.until((l) => l.msg === 'hexfleet gateway listening', 'listening');
    await gw.until((l) => l.msg.startsWith('revocation load failing'), 'the revocation load failing');

    const ready = await httpGet(adminPort, '/readyz');
    expect(ready.status).toBe(503);
    const body = JSON.parse(ready.text) as { failing: string[]; message: string };
    expect(body.failing).toEqual(['redis']);
    expect(body.message).toMatch(new RegExp(`^Redis at 127\\.0\\.0\\.1:${redisPort}: connection refused`));
    expect(body.message).not.toMatch(/Stream isn't writeable/);

    const unreachable = gw.lines.filter((l) => l.msg.startsWith('redis unreachable'));
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0]!.err).toMatch(new RegExp(`^Redis at 127\\.0\\.0\\.1:${redisPort}: connection refused`));
    const about = (task: string) => gw.lines.filter((l) => l.msg.startsWith(`${task} `)).map((l) => l.msg.slice(task.length + 1).split(':')[0]);
    for (const task of ['deadline poll', 'read index sync', 'revocation load']) expect(about(task), task).toEqual(['failing']);
    // Their cause points to where the connection's cause is, not to the client library's internals.
    expect(gw.lines.find((l) => l.msg.startsWith('deadline poll failing'))!.err).toMatch(/^not connected to Redis, reconnecting/);

    // Redis appears on that port: every task says once that it recovered, and the gateway becomes ready.
    const redis = await RedisServer.startOn(redisPort);
    cleanup.push(() => redis.stop());
    for (const task of ['deadline poll', 'read index sync', 'revocation load']) await gw.until((l) => l.msg === `${task} recovered`, `${task} recovered`);
    await gw.until((l) => l.msg === 'redis connected', 'redis connected');
    expect((await httpGet(port, '/readyz')).status).toBe(200);
    for (const task of ['deadline poll', 'read index sync', 'revocation load']) expect(about(task), task).toEqual(['failing', 'recovered']);
    const recovered = gw.lines.find((l) => l.msg === 'deadline poll recovered')!;
    // Many polls failed (about 4 a second while it waited; fewer on a busy machine) for the one line written.
    expect(recovered.failures).toBeGreaterThan(3);
  }, 120_000);
});
