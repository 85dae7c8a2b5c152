import type { Logger } from 'pino';
import { detailOf } from '../protocol/error-codes.js';
import { FailureLog } from '../runtime/failure-log.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import type { OrderSaga } from './order-saga.js';
import type { OrderStore } from './order-store.js';

/** Orders handled per poll; the next poll continues. */
const BATCH = 100;

/**
 * Every gateway polls the store for orders whose deadline passed (offers not
 * answered in time, searches whose process died) and moves them on. Timers
 * live in the store, not in a process, so a kill -9 loses none: whichever
 * gateway polls next acts, and the saga's compare-and-set lets one win.
 */
export class DeadlinePoller {
  private readonly periodic: PeriodicTask;
  /** A store that does not answer fails every poll (four a second by default): logged per outage, not per poll. */
  private readonly failures: FailureLog;

  constructor(
    private readonly orders: OrderStore,
    private readonly saga: OrderSaga,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.periodic = new PeriodicTask(() => this.poll(), intervalMs);
    this.failures = new FailureLog(log, 'deadline poll', 'offers and searches past their deadline are not moved on');
  }

  start(): void {
    this.periodic.start();
  }

  async poll(): Promise<number> {
    let handled = 0;
    try {
      const now = Date.now();
      const due = await this.orders.due(now, BATCH);
      this.failures.succeeded();
      for (const orderId of due) {
        try {
          await this.saga.onDeadline(orderId, Date.now(), 'deadline');
          handled++;
        } catch (err) {
          this.log.warn({ orderId, err: detailOf(err) }, 'deadline handling failed; retried next poll');
        }
      }
    } catch (err) {
      this.failures.failed(err);
    }
    return handled;
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
