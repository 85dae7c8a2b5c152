import type { ChildProcess } from 'node:child_process';

/**
 * Every child process a run started (gateways, load generators) and has not
 * yet seen exit, so that any exit path — a crash, Ctrl-C, the end of a
 * benchmark — can stop them all. Redis is not in here: a scenario that
 * crashes stops its children, and the next scenario still needs Redis.
 */
const live = new Set<ChildProcess>();
/** Set once the run is stopping: a child started after that (by a scenario still unwinding) is killed at once. */
let closing = false;

/** Every child still running when this process exits is SIGKILLed with it, so none outlives its owner. */
const owned = new Set<ChildProcess>();
let exitHook = false;

/**
 * Kills `proc` (SIGKILL) if this process exits while it still runs, so a
 * test worker or a benchmark that ends without stopping what it started (a
 * thrown error, a forgotten stop) leaves no redis-server or gateway behind.
 * Covers every exit that runs 'exit' listeners (the end of the event loop,
 * process.exit), not a SIGKILL of this process.
 */
export function killOnExit(proc: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of owned) p.kill('SIGKILL');
    });
  }
  owned.add(proc);
  proc.once('exit', () => owned.delete(proc));
}

/** Registers a child so that {@link stopAllChildren} stops it (and it dies with this process). */
export function track(proc: ChildProcess): void {
  if (closing) {
    proc.kill('SIGKILL');
    return;
  }
  killOnExit(proc);
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

/** Stops one child: `signal`, then SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every tracked child still running (each by its own pid). `final`: refuse new ones from now on. */
export async function stopAllChildren(final = false): Promise<void> {
  closing ||= final;
  await Promise.all([...live].map((p) => stopProcess(p)));
}
