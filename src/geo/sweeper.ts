import type { Logger } from 'pino';
import type { Metrics } from '../runtime/metrics.js';
import { FailureLog } from '../runtime/failure-log.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import type { DriverStore } from './driver-store.js';

/**
 * Runs store.sweep() every interval: silent drivers leave the cell index,
 * long-silent ones are forgotten, so neither the index nor the records grow
 * without bound. Runs never overlap; a failed run is logged and retried at
 * the next tick.
 */
export class Sweeper {
  private readonly periodic: PeriodicTask;
  private readonly failures: FailureLog;

  constructor(
    private readonly store: DriverStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.periodic = new PeriodicTask(() => this.runOnce(), intervalMs);
    this.failures = new FailureLog(log, 'sweep', 'silent drivers stay in the cell index');
  }

  start(): void {
    this.periodic.start();
  }

  async runOnce(): Promise<void> {
    try {
      const { unindexed, removed } = await this.store.sweep(Date.now());
      this.failures.succeeded();
      this.metrics.sweptDrivers.inc({ outcome: 'unindexed' }, unindexed);
      this.metrics.sweptDrivers.inc({ outcome: 'removed' }, removed);
      if (unindexed + removed > 0) this.log.info({ unindexed, removed }, 'sweep: silent drivers left the index');
    } catch (err) {
      this.metrics.storeErrors.inc({ op: 'sweep' });
      this.failures.failed(err);
    }
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
