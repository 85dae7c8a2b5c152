import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMfa, DEFAULT_MFA_POLICY } from '../../src/auth/mfa.js';
import { TokenService } from '../../src/auth/tokens.js';
import { type ConfigKey, configSchema, envName } from '../../src/config/config-schema.js';

/**
 * The `hexfleet` command as users run it: `node dist/src/cli.js`, built by the
 * tests' global setup (never here: rebuilding dist/ while other test files run
 * the CLI let one of them load a half-written file and exit 1), in child
 * processes with their own environment.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = 'dist/src/cli.js';
const SECRET = 'a-cli-test-secret-that-is-forty-chars-01';

/** The parent's environment without anything that configures hexfleet or uWebSockets.js. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('HEXFLEET_') || ['PORT', 'REDIS_URL', 'UWS_USE_FALLBACK'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
function run(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env) }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const children = new Set<ChildProcessWithoutNullStreams>();

function track(child: ChildProcessWithoutNullStreams): ChildProcessWithoutNullStreams {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
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

/** A running `serve`: its pino lines as parsed, waited for by predicate. */
class Server {
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';
  exit: Promise<number | null>;
  private waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const raw = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          continue; // The uWebSockets.js fallback prints a plain-text notice on stdout.
        }
        this.lines.push(line);
        for (const w of this.waiters.filter((x) => x.match(line))) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(line);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** An admin listener on a free port unless `env` says otherwise: the default 9091 may be taken by another gateway of the run. */
  static start(env: Record<string, string>): Server {
    return new Server(track(spawn(process.execPath, [CLI, 'serve'], { cwd: ROOT, env: cleanEnv({ HEXFLEET_ADMIN_PORT: '0', ...env }) })));
  }

  /** The first log line matching, or a failure when the process exits first (or after 30 s). */
  waitForLine(match: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line ${what} within 30 s; stderr: ${this.stderr}`)), 30_000);
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code} before logging ${what}; stderr: ${this.stderr}`));
      });
    });
  }

  /** Waits for "listening" and returns the port. */
  async port(): Promise<number> {
    const line = await this.waitForLine((l) => l.msg === 'hexfleet gateway listening', '"hexfleet gateway listening"');
    return line.port as number;
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exit;
  }
}

describe('hexfleet --help', () => {
  it.each([['--help'], ['-h'], ['help'], ['serve', '--help']])('%s lists every variable of the config schema and exits 0', async (...args) => {
    const { code, stdout } = await run(args);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage:');
    expect(stdout).toContain('hexfleet token --role ROLE --sub ID');
    for (const key of Object.keys(configSchema) as ConfigKey[]) expect(stdout, key).toContain(envName(key));
  });
});

describe('hexfleet token', () => {
  it('prints a token that TokenService verifies with the given role and sub', async () => {
    const { code, stdout, stderr } = await run(['token', '--role', 'driver', '--sub', 'd1'], { HEXFLEET_JWT_SECRET: SECRET });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const principal = new TokenService(SECRET).verify(stdout.trim(), ['driver']);
    expect(principal.role).toBe('driver');
    expect(principal.sub).toBe('d1');
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
    // A token signed with another secret is refused.
    expect(() => new TokenService('x'.repeat(32)).verify(stdout.trim(), ['driver'])).toThrow(/badly signed/);
  });

  it('signs other roles and honours --ttl', async () => {
    const { code, stdout } = await run(['token', '--role', 'service', '--sub', 'dispatch', '--ttl', '60'], { HEXFLEET_JWT_SECRET: SECRET });
    expect(code).toBe(0);
    const principal = new TokenService(SECRET).verify(stdout.trim(), ['service']);
    expect(principal).toMatchObject({ role: 'service', sub: 'dispatch' });
    expect(principal.expiresAt! - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it('gives every token iat, a jti and the role\'s longest lifetime by default; --mfa adds amr and auth_time', async () => {
    const plain = await run(['token', '--role', 'admin', '--sub', 'ops-1'], { HEXFLEET_JWT_SECRET: SECRET });
    expect(plain.code).toBe(0);
    const p = new TokenService(SECRET).verify(plain.stdout.trim(), ['admin']);
    expect(p.expiresAt - p.issuedAt!).toBe(3600_000);
    expect(p.jti).toBeDefined();
    expect(() => checkMfa(p, DEFAULT_MFA_POLICY, Date.now())).toThrow(/second factor/);
    const mfa = await run(['token', '--role', 'admin', '--sub', 'ops-1', '--mfa'], { HEXFLEET_JWT_SECRET: SECRET });
    const q = new TokenService(SECRET).verify(mfa.stdout.trim(), ['admin']);
    expect(q.amr).toEqual(['pwd', 'mfa']);
    expect(() => checkMfa(q, DEFAULT_MFA_POLICY, Date.now())).not.toThrow();
  });

  it.each<{ args: string[]; env: Record<string, string>; message: RegExp }>([
    { args: ['--role', 'admin', '--sub', 'ops', '--ttl', '7200'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /longer than a admin token may live \(3600 s; raise HEXFLEET_TOKEN_MAX_TTL_ADMIN_S/ },
    { args: ['--role', 'pilot', '--sub', 'd1'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /--role must be one of driver, service, admin/ },
    { args: ['--role', 'driver'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /--sub is required/ },
    { args: ['--role', 'driver', '--sub', 'd1', '--ttl=-5'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /--ttl must be a positive whole number/ },
    { args: ['--role', 'driver', '--sub', 'd1', '--ttl', 'soon'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /--ttl must be a positive whole number/ },
    { args: ['--role', 'driver', '--sub', 'd1', '--ttl', '-5'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /--ttl/ },
    { args: ['--rol', 'driver', '--sub', 'd1'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /Unknown option '--rol'/ },
    { args: ['--role'], env: { HEXFLEET_JWT_SECRET: SECRET }, message: /--role/ },
    { args: ['--role', 'driver', '--sub', 'd1'], env: {}, message: /HEXFLEET_JWT_SECRET is required/ },
    { args: ['--role', 'driver', '--sub', 'd1'], env: { HEXFLEET_JWT_SECRET: 'too-short' }, message: /HEXFLEET_JWT_SECRET must be at least 32/ },
    { args: ['--role', 'driver', '--sub', 'd1'], env: { HEXFLEET_JWT_SECRET: SECRET, HEXFLEET_RATE: '5' }, message: /HEXFLEET_RATE/ },
  ])('exits 2 with a message for %j', async ({ args, env, message }) => {
    const { code, stdout, stderr } = await run(['token', ...args], env);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
  });
});

describe('hexfleet with a bad configuration', () => {
  it.each<{ env: Record<string, string>; name: string }>([
    { env: { HEXFLEET_MAX_BATCH: 'lots' }, name: 'HEXFLEET_MAX_BATCH' },
    { env: { PORT: '70000' }, name: 'PORT' },
    { env: { HEXFLEET_STORE: 'mongo' }, name: 'HEXFLEET_STORE' },
    { env: { HEXFLEET_ALLOW_UWS_FALLBACK: 'perhaps' }, name: 'HEXFLEET_ALLOW_UWS_FALLBACK' },
    { env: { HEXFLEET_STALE_MSEC: '1000' }, name: 'HEXFLEET_STALE_MSEC' },
    { env: { HEXFLEET_STORE: 'redis' }, name: 'REDIS_URL' },
    { env: { HEXFLEET_JWT_SECRET: 'short' }, name: 'HEXFLEET_JWT_SECRET' },
  ])('serve exits 2 naming $name', async ({ env, name }) => {
    const { code, stderr } = await run(['serve'], { HEXFLEET_JWT_SECRET: SECRET, PORT: '0', ...env });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^hexfleet: /);
    expect(stderr).toContain(name);
  });

  it.each<{ env: Record<string, string>; what: string }>([
    { env: {}, what: 'no secret, no JWKS' },
    { env: { HEXFLEET_JWT_SECRET: '' }, what: 'an empty secret' },
  ])('serve exits 2, like every configuration error, with $what (it cannot verify any token)', async ({ env }) => {
    const { code, stderr } = await run(['serve'], { PORT: '0', ...env });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^hexfleet: HEXFLEET_JWT_SECRET \(at least 32 characters\) or HEXFLEET_JWKS_URL \/ HEXFLEET_JWKS_FILE is required/);
  });

  it('--help states the exit codes: 2 for every configuration or usage error, 1 for runtime failures', async () => {
    const { stdout } = await run(['--help']);
    expect(stdout).toMatch(/Exit codes \(every command\):\n  0 .*\n  1  a runtime failure.*\n  2  a configuration or usage error/);
  });

  it.each([
    { args: ['replay', '--help'], says: 'hexfleet replay' },
    { args: ['dlq', '--help'], says: 'hexfleet dlq' },
  ])('$args.0 --help prints its own flags without Kafka', async ({ args, says }) => {
    const { code, stdout } = await run(args);
    expect(code).toBe(0);
    expect(stdout).toContain(says);
  });

  it.each([
    { args: ['dlq', 'list'], says: 'HEXFLEET_KAFKA_BROKERS' },
    { args: ['replay', '--to', 'now'], says: 'HEXFLEET_KAFKA_BROKERS' },
    { args: ['replay', '--to', 'yesterday'], says: '--to' },
  ])('$args exits 2 saying what is missing', async ({ args, says }) => {
    const { code, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toContain(says);
  });

  it('exits 2 on an unknown command', async () => {
    const { code, stderr } = await run(['serv']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "serv"');
  });
});

describe('hexfleet serve', () => {
  const env = { HEXFLEET_JWT_SECRET: SECRET, PORT: '0', HEXFLEET_HOST: '127.0.0.1', HEXFLEET_ADMIN_PORT: '0' };

  it('starts on the native binding with the memory store, answers, and stops on SIGTERM', async () => {
    const server = Server.start(env);
    const port = await server.port();
    expect(port).toBeGreaterThan(0);
    expect(server.lines.find((l) => l.msg === 'backend: memory')).toMatchObject({ store: 'memory' });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(server.lines.some((l) => l.msg === 'hexfleet gateway stopped')).toBe(true);
  });

  it('refuses to start on the uWebSockets.js JavaScript imitation (UWS_USE_FALLBACK=1)', async () => {
    const { code, stderr } = await run(['serve'], { ...env, UWS_USE_FALLBACK: '1' });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toMatch(/hexfleet: the native uWebSockets\.js binding did not load/);
    expect(stderr).toContain('HEXFLEET_ALLOW_UWS_FALLBACK=true');
  });

  it('starts on the imitation when HEXFLEET_ALLOW_UWS_FALLBACK=true says so', async () => {
    const server = Server.start({ ...env, UWS_USE_FALLBACK: '1', HEXFLEET_ALLOW_UWS_FALLBACK: 'true' });
    const port = await server.port();
    expect(port).toBeGreaterThan(0);
    expect(server.lines.some((l) => l.level === 40 && String(l.msg).includes('native binding missing'))).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    server.child.kill('SIGKILL');
    await server.exit;
  });
});
