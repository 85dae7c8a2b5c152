import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../kit/free-port.js';
import { waitFor } from '../support/wait-for.js';

/**
 * `npm run demo` as a user runs it, stopped every way a user stops it: each
 * case starts npm (in its own session, as a terminal would), waits until the
 * engine serves and the simulator runs, signals, and then every process of
 * the tree that was running (npm, the demo script, the engine, the
 * simulator) must be gone and both of the engine's ports free again.
 * dist/ is built by the global setup.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One process as /proc shows it; the start time tells a reused pid apart. */
interface Proc {
  pid: number;
  ppid: number;
  state: string;
  start: string;
  args: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(f[1]), state: f[0]!, start: f[19]!, args };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** The process and all its descendants, now. */
function tree(root: number): Proc[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => readProc(Number(d))).filter((p): p is Proc => p !== undefined);
  const out = all.filter((p) => p.pid === root);
  for (let i = 0; i < out.length; i++) for (const p of all) if (p.ppid === out[i]!.pid) out.push(p);
  return out;
}

/** Still running: the same process (same start time) and not a zombie waiting to be reaped. */
function running(p: Proc): boolean {
  const now = readProc(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z';
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

interface Demo {
  npm: ChildProcessWithoutNullStreams;
  port: number;
  adminPort: number;
  stderr: () => string;
  /** Every process of the tree once the demo serves. */
  procs: Proc[];
}

const started: Demo[] = [];

async function startDemo(): Promise<Demo> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_') && !k.startsWith('DEMO_') && !k.startsWith('npm_')) env[k] = v;
  Object.assign(env, { DEMO_PORT: String(port), HEXFLEET_ADMIN_PORT: String(adminPort), DEMO_DRIVERS: '5', DEMO_ORDERS_PER_MINUTE: '30' });
  // detached: its own session and process group, as a shell gives a command it runs.
  const npm = spawn('npm', ['run', 'demo'], { cwd: ROOT, env, detached: true });
  let err = '';
  npm.stderr.on('data', (d: Buffer) => (err += d.toString()));
  npm.stdout.resume();
  const demo: Demo = { npm, port, adminPort, stderr: () => err, procs: [] };
  started.push(demo);
  const what = (): string => `the demo serving on ${port} with its simulator running; stderr so far:\n${err}`;
  await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    return res?.ok === true && tree(npm.pid!).some((p) => p.args.includes('cli.js simulate')) && err.includes('[sim] drivers');
  }, { timeoutMs: 45_000, intervalMs: 100, what: what() });
  demo.procs = tree(npm.pid!);
  return demo;
}

/** Waits until nothing of the demo's tree runs and both ports can be bound again. */
async function expectAllStopped(demo: Demo): Promise<void> {
  const names = demo.procs.map((p) => `${p.pid} ${p.args}`).join('\n');
  await waitFor(() => demo.procs.every((p) => !running(p)), {
    timeoutMs: 40_000,
    intervalMs: 100,
    what: `every process of the demo to exit:\n${names}`,
  });
  expect(await portFree(demo.port), `port ${demo.port} free`).toBe(true);
  expect(await portFree(demo.adminPort), `admin port ${demo.adminPort} free`).toBe(true);
}

afterEach(() => {
  for (const demo of started.splice(0)) {
    for (const p of [...demo.procs, ...tree(demo.npm.pid!)]) {
      if (running(p)) process.kill(p.pid, 'SIGKILL');
    }
  }
});

describe('npm run demo stops everything, however it is stopped', () => {
  it('runs npm, the demo script, the engine and the simulator (the tree the cases below stop)', async () => {
    const demo = await startDemo();
    const args = demo.procs.map((p) => p.args);
    expect(args.some((a) => a.includes('scripts/demo.mjs'))).toBe(true);
    expect(args.some((a) => a.includes('cli.js serve'))).toBe(true);
    expect(args.some((a) => a.includes('cli.js simulate'))).toBe(true);
    process.kill(demo.npm.pid!, 'SIGINT');
    await expectAllStopped(demo);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s to the npm process', async (signal) => {
    const demo = await startDemo();
    const exit = new Promise<number | null>((r) => demo.npm.once('exit', (code) => r(code)));
    process.kill(demo.npm.pid!, signal);
    await expectAllStopped(demo);
    // Stopped in order, by the demo script: nothing had to be killed.
    expect(demo.stderr()).toContain(`[demo] ${signal}: stopping the simulator, then the engine`);
    expect(demo.stderr()).not.toContain('killing');
    expect(await exit).toBe(0);
  });

  it('Ctrl-C in a terminal: SIGINT to the whole foreground process group (npm and the demo at once)', async () => {
    const demo = await startDemo();
    process.kill(-demo.npm.pid!, 'SIGINT');
    await expectAllStopped(demo);
    // npm forwards its copy of the same Ctrl-C: that is not a second, forcing one.
    expect(demo.stderr()).not.toContain('killing');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s to the demo process itself', async (signal) => {
    const demo = await startDemo();
    const script = demo.procs.find((p) => p.args.includes('scripts/demo.mjs'))!;
    process.kill(script.pid, signal);
    await expectAllStopped(demo);
    expect(demo.stderr()).not.toContain('killing');
  });

  it('npm killed outright (SIGKILL, nothing forwarded): the demo sees its parent gone and stops', async () => {
    const demo = await startDemo();
    process.kill(demo.npm.pid!, 'SIGKILL');
    await expectAllStopped(demo);
    expect(demo.stderr()).toContain('[demo] the process that started the demo is gone: stopping');
  });
});
