import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Process and machine CPU and memory from /proc (Linux), read from outside
 * the measured processes so that measuring costs them nothing.
 */

/** Clock ticks per second of /proc/<pid>/stat times (almost always 100). */
export const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads), in seconds; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** A /proc/<pid>/status size field (VmRSS, VmHWM) in bytes; NaN when unavailable. */
export function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Machine-wide CPU seconds, busy and total, from the first line of /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** CPU of named processes over a window, in % of one core. */
export class CpuWindow {
  private readonly start = new Map<string, number>();
  private startMachine = machineCpu();
  private startAt = performance.now();

  constructor(private readonly pids: ReadonlyMap<string, number>) {
    this.begin();
  }

  begin(): void {
    this.startAt = performance.now();
    this.startMachine = machineCpu();
    for (const [name, pid] of this.pids) this.start.set(name, cpuSeconds(pid));
  }

  /**
   * % of one core per process, the machine's busy share (% of all cores), and
   * what processes outside the list used (% of one core): other work on the
   * machine competes for the same cores and lowers every figure.
   */
  end(): { perProcess: Map<string, number>; machineBusyPct: number; othersPct: number } {
    const wallS = (performance.now() - this.startAt) / 1000;
    const perProcess = new Map<string, number>();
    for (const [name, pid] of this.pids) {
      perProcess.set(name, ((cpuSeconds(pid) - (this.start.get(name) ?? NaN)) / wallS) * 100);
    }
    const m = machineCpu();
    const machineBusyPct = ((m.busy - this.startMachine.busy) / (m.total - this.startMachine.total)) * 100;
    const ours = [...perProcess.values()].reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const othersPct = Math.max(0, machineBusyPct * os.availableParallelism() - ours);
    return { perProcess, machineBusyPct, othersPct };
  }
}

/**
 * Waits until processes outside `ours` have used less than `maxOthersPct` of
 * one core for two consecutive 1 s samples, or until `timeoutS` has passed.
 * On a shared machine this keeps other work out of a measured window when
 * it can; the window's own "other processes" figure still says what happened.
 */
export async function waitForQuiet(
  ours: ReadonlyMap<string, number>,
  maxOthersPct: number,
  timeoutS: number,
  onBusy: (othersPct: number) => void,
): Promise<boolean> {
  const deadline = performance.now() + timeoutS * 1000;
  let quietSamples = 0;
  let lastReport = 0;
  while (performance.now() < deadline) {
    const w = new CpuWindow(ours);
    await new Promise((r) => setTimeout(r, 1000));
    const { othersPct } = w.end();
    quietSamples = othersPct < maxOthersPct ? quietSamples + 1 : 0;
    if (quietSamples >= 2) return true;
    if (quietSamples === 0 && performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      onBusy(othersPct);
    }
  }
  return false;
}
