/**
 * Runs `task` every `intervalMs`, never two at once (a run that outlasts the
 * interval makes the next tick skip), on an unref'd timer so it never keeps
 * the process alive. `task` must handle its own errors, and log them with
 * a FailureLog (once per outage, not once per tick).
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.task().then(() => undefined).finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
