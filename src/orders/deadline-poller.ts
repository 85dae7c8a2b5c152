import type { Logger } from 'pino';
import { detailOf } from '../protocol/error-codes.js';
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

  constructor(
    private readonly orders: OrderStore,
    private readonly saga: OrderSaga,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.periodic = new PeriodicTask(() => this.poll(), intervalMs);
  }

  start(): void {
    this.periodic.start();
  }

  async poll(): Promise<number> {
    let handled = 0;
    try {
      const now = Date.now();
      for (const orderId of await this.orders.due(now, BATCH)) {
        try {
          await this.saga.onDeadline(orderId, Date.now(), 'deadline');
          handled++;
        } catch (err) {
          this.log.warn({ orderId, err: detailOf(err) }, 'deadline handling failed; retried next poll');
        }
      }
    } catch (err) {
      this.log.warn({ err: detailOf(err) }, 'deadline poll failed; retried next interval');
    }
    return handled;
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
