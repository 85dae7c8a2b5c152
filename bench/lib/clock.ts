/**
 * Wall-clock milliseconds with sub-millisecond resolution. Every process of a
 * benchmark run reads the same system clock, so a window [from, to) chosen by
 * the orchestrator means the same instants in the load generators.
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Sleeps until the wall-clock instant `t` (ms since the epoch). */
export async function sleepUntil(t: number): Promise<void> {
  const wait = t - nowMs();
  if (wait > 0) await sleep(wait);
}

/**
 * Progress lines, `[  12.3s] A throughput: …`, elapsed since the run started;
 * on stdout, or on stderr when stdout carries a suite's markdown.
 */
export class Progress {
  private readonly started = nowMs();

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  log(phase: string, message: string): void {
    const elapsed = ((nowMs() - this.started) / 1000).toFixed(1).padStart(7);
    this.out.write(`[${elapsed}s] ${phase}: ${message}\n`);
  }
}
