#!/usr/bin/env node
// npm run demo: the engine on the embedded memory store plus the simulator,
// with one command. Builds first when dist/ is missing.
//
//   DEMO_PORT (default 8080), DEMO_DRIVERS (300), DEMO_ORDERS_PER_MINUTE (60);
//   extra arguments after `npm run demo --` go to `hexfleet simulate`.
//
// Stopping, in any form, stops everything:
//   - Ctrl-C in the terminal (SIGINT to the whole foreground group), SIGINT or
//     SIGTERM to npm (npm forwards them to its child, which is this script:
//     the package.json script `exec`s node, since sh would swallow them), or
//     to this script, or SIGHUP (the terminal closed): the simulator is
//     stopped first (it cancels its orders on the engine), then the engine.
//   - A second signal a moment later (not the copy npm forwards of the same
//     Ctrl-C), or a child that does not stop within STOP_TIMEOUT_MS: SIGKILL.
//   - npm itself killed (SIGKILL, nothing forwarded): this script sees its
//     parent gone and stops the same way.
// Each child runs in its own process group (so a terminal's Ctrl-C reaches
// only this script, which stops them in order), and is signalled as a group,
// so nothing it started outlives it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = 'dist/src/cli.js';
const port = process.env.DEMO_PORT ?? '8080';
// A development secret only: the demo's gateway listens on loopback.
const secret = process.env.HEXFLEET_JWT_SECRET ?? 'hexfleet-demo-secret-do-not-use-in-production';
/** serve needs a second or two to start; a machine that takes longer than this has a problem worth reporting. */
const READY_TIMEOUT_MS = 30_000;
/** The simulator cancels its open orders (one HTTP call each) and the engine drains its batches: seconds, not more. */
const STOP_TIMEOUT_MS = 15_000;
/** How often the parent is checked; a stopped demo a second after npm was killed is soon enough. */
const PARENT_CHECK_MS = 1_000;

/** The children, in the order they are stopped: the simulator before the engine. */
const children = { sim: undefined, build: undefined, server: undefined };
let stopping = false;
/** When the first stopping signal came: a terminal's Ctrl-C arrives twice at once (from the terminal, and forwarded by npm). */
let firstSignalAt = 0;
/** A second signal sooner than this is the same Ctrl-C; later, it is the user insisting. */
const SAME_SIGNAL_MS = 1_000;
const parent = process.ppid;

const alive = (child) => child !== undefined && child.exitCode === null && child.signalCode === null;

/** Signals a child's whole process group (it was spawned detached, so its pid is the group id). */
function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function startChild(name, command, args, options) {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...options, detached: true });
  children[name] = child;
  return child;
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (!alive(child)) return resolve();
    const force = setTimeout(() => {
      console.error(`[demo] pid ${child.pid} did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it`);
      signalGroup(child, 'SIGKILL');
    }, STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(force);
      // Anything the child started in its group goes with it.
      signalGroup(child, 'SIGKILL');
      resolve();
    });
    signalGroup(child, 'SIGINT');
  });
}

function killAll() {
  for (const child of Object.values(children)) if (alive(child)) signalGroup(child, 'SIGKILL');
}

async function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of [children.sim, children.build, children.server]) await stopChild(child);
  process.exit(code);
}

function onSignal(signal) {
  const now = Date.now();
  if (firstSignalAt === 0) {
    firstSignalAt = now;
    console.error(`[demo] ${signal}: stopping the simulator, then the engine`);
    void stop(0);
  } else if (now - firstSignalAt >= SAME_SIGNAL_MS) {
    console.error(`[demo] ${signal} again: killing everything`);
    killAll();
    process.exit(130);
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));
// However this script ends, its children do not outlive it.
process.on('exit', killAll);
// npm killed outright forwards nothing: this script is re-parented, and stops.
setInterval(() => {
  if (process.ppid !== parent) {
    console.error('[demo] the process that started the demo is gone: stopping');
    void stop(0);
  }
}, PARENT_CHECK_MS).unref();

const exited = (child) => new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));

if (!existsSync(new URL(`../${cli}`, import.meta.url))) {
  console.error('[demo] dist/ is missing: npm run build');
  const status = await exited(startChild('build', 'npm', ['run', 'build'], { stdio: 'inherit' }));
  if (stopping) await new Promise(() => {}); // stop() exits
  if (status !== 0) process.exit(status);
}

const env = { ...process.env, HEXFLEET_JWT_SECRET: secret };
const server = startChild('server', process.execPath, [cli, 'serve'], {
  env: { ...env, PORT: port, HEXFLEET_HOST: '127.0.0.1', HEXFLEET_STORE: 'memory', HEXFLEET_LOG_LEVEL: process.env.HEXFLEET_LOG_LEVEL ?? 'warn' },
});
server.once('exit', (code, signal) => {
  if (!stopping) {
    console.error(`[demo] the engine exited (${signal ?? code}); stopping`);
    void stop(1);
  }
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

if (!(await waitReady()) || stopping) {
  if (!stopping) console.error(`[demo] the engine was not ready on port ${port} within ${READY_TIMEOUT_MS / 1000} s`);
  void stop(1);
} else {
  console.error(`[demo] engine ready on http://127.0.0.1:${port} (memory store); starting the simulator, Ctrl-C stops both`);
  const sim = startChild('sim', process.execPath, [
    cli, 'simulate',
    '--drivers', process.env.DEMO_DRIVERS ?? '300',
    '--orders-per-minute', process.env.DEMO_ORDERS_PER_MINUTE ?? '60',
    '--url', `ws://127.0.0.1:${port}`,
    ...process.argv.slice(2),
  ], { env });
  sim.once('exit', (code) => void stop(code ?? 0));
}
