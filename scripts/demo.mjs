#!/usr/bin/env node
// npm run demo: the engine on the embedded memory store plus the simulator,
// with one command. Builds first when dist/ is missing; Ctrl-C stops both.
//
//   DEMO_PORT (default 8080), DEMO_DRIVERS (300), DEMO_ORDERS_PER_MINUTE (60);
//   extra arguments after `npm run demo --` go to `hexfleet simulate`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = 'dist/src/cli.js';
const port = process.env.DEMO_PORT ?? '8080';
// A development secret only: the demo's gateway listens on loopback.
const secret = process.env.HEXFLEET_JWT_SECRET ?? 'hexfleet-demo-secret-do-not-use-in-production';
/** serve needs a second or two to start; a machine that takes longer than this has a problem worth reporting. */
const READY_TIMEOUT_MS = 30_000;

if (!existsSync(new URL(`../${cli}`, import.meta.url))) {
  console.error('[demo] dist/ is missing: npm run build');
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const env = { ...process.env, HEXFLEET_JWT_SECRET: secret };
const server = spawn(process.execPath, [cli, 'serve'], {
  cwd: root,
  env: { ...env, PORT: port, HEXFLEET_HOST: '127.0.0.1', HEXFLEET_STORE: 'memory', HEXFLEET_LOG_LEVEL: process.env.HEXFLEET_LOG_LEVEL ?? 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
  // Its own process group: Ctrl-C reaches only this script, which stops the children one at a time, in order.
  detached: true,
});
let sim;
let stopping = false;

server.once('exit', (code, signal) => {
  if (!stopping) {
    console.error(`[demo] the engine exited (${signal ?? code}); stopping`);
    stop(1);
  }
});

function stop(code) {
  if (stopping) return;
  stopping = true;
  const kill = (child) => new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGINT');
  });
  // The simulator first: it cancels its orders on the engine before the engine goes.
  kill(sim).then(() => kill(server)).then(() => process.exit(code));
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
// However this script ends, its children do not outlive it.
process.on('exit', () => {
  for (const child of [sim, server]) if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function waitReady() {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

if (!(await waitReady())) {
  if (!stopping) console.error(`[demo] the engine was not ready on port ${port} within ${READY_TIMEOUT_MS / 1000} s`);
  stop(1);
} else {
  console.error(`[demo] engine ready on http://127.0.0.1:${port} (memory store); starting the simulator, Ctrl-C stops both`);
  sim = spawn(process.execPath, [
    cli, 'simulate',
    '--drivers', process.env.DEMO_DRIVERS ?? '300',
    '--orders-per-minute', process.env.DEMO_ORDERS_PER_MINUTE ?? '60',
    '--url', `ws://127.0.0.1:${port}`,
    ...process.argv.slice(2),
  ], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  sim.once('exit', (code) => stop(code ?? 0));
}
