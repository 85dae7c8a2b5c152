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

/** Registers a child so that {@link stopAllChildren} stops it. */
export function track(proc: ChildProcess): void {
  if (closing) {
    proc.kill('SIGKILL');
    return;
  }
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
