import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { detailOf } from '../protocol/error-codes.js';
import { FailureLog } from '../runtime/failure-log.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import type { DriverStore } from '../geo/driver-store.js';
import type { DispatchMetrics } from '../orders/dispatch-metrics.js';
import type { OrderDoc } from '../orders/order.js';
import { isFlaggedSilent, type OrderSaga } from '../orders/order-saga.js';
import { type OrderStore, type Reservation, TWO_STEP_GRACE_MS } from '../orders/order-store.js';
import { RECONCILE_KINDS, type ReconcileReport, totalFound } from './reconcile-report.js';

export interface ReconcilerDeps {
  orders: OrderStore;
  drivers: DriverStore;
  saga: OrderSaga;
  metrics: DispatchMetrics;
  log: Logger;
  options: ReconcilerOptions;
}

export interface ReconcilerOptions {
  /** An accepted order's driver silent for longer than this (or without a record) is flagged. */
  offlineMs: number;
  /**
   * How long past its deadline (offer expiry, search lease) an order must be
   * to count as stuck: the deadline pollers act first, and an order they are
   * about to handle is their normal work, not an inconsistency.
   */
  graceMs: number;
}

/**
 * Finds and repairs what the stores should never hold but a bug, a crash
 * between two systems or a manual edit can leave:
 *
 *   reservation no open order holds ─────────▶ release it (fence-checked)
 *   offered past its deadline, searching past
 *   its lease (also when missing from `due`) ─▶ saga.onDeadline: expire, move on
 *   accepted, driver silent past offlineMs ───▶ flag + event, never reassign
 *   cell index ≠ driver records ──────────────▶ DriverStore.repairIndex
 *
 * Every repair goes through the same compare-and-set or fenced step the saga
 * uses, so a run is safe next to live traffic and next to other gateways'
 * runs: whatever changed since it looked wins, and the repair does nothing.
 */
export class Reconciler {
  private periodic: PeriodicTask | undefined;
  private readonly failures: FailureLog;

  constructor(private readonly d: ReconcilerDeps) {
    this.failures = new FailureLog(d.log, 'reconciliation', 'orphaned reservations and stuck orders are not repaired');
  }

  /** One full pass. Rejects when a store cannot be read (what was repaired before stays repaired). */
  async run(now: number): Promise<ReconcileReport> {
    const started = performance.now();
    const reservations = await this.releaseOrphans(now);
    const { stuckOrders, silentDrivers } = await this.checkOpenOrders(now);
    const cellIndex = await this.d.drivers.repairIndex(now);
    const report: ReconcileReport = {
      reservations, stuckOrders, silentDrivers, cellIndex,
      durationMs: Math.round(performance.now() - started),
    };
    const { reconcileFindings } = this.d.metrics;
    for (const key of Object.keys(RECONCILE_KINDS) as (keyof typeof RECONCILE_KINDS)[]) {
      const kind = RECONCILE_KINDS[key];
      const counts: Record<string, number> = report[key];
      for (const [action, n] of Object.entries(counts)) reconcileFindings.inc({ kind, action }, n);
    }
    return report;
  }

  /**
   * A reservation is held by an order only while that order is offered or
   * accepted with the same driver and fence: the saga releases it in the same
   * commit that leaves those states. A reservation read first cannot belong
   * to a commit made after the order is read, so a mismatch is real, unless
   * the saga releases it in between, in which case the fenced release finds
   * nothing and the reservation is not counted. Where reserving and
   * committing are two steps (`takenAt`, Redis Cluster), a reservation
   * younger than TWO_STEP_GRACE_MS may still be waiting for its order's
   * commit and is left for a later run.
   */
  private async releaseOrphans(now: number): Promise<{ found: number; fixed: number }> {
    let fixed = 0;
    for (const r of await this.d.orders.reservations()) {
      if (r.takenAt !== undefined && now - r.takenAt < TWO_STEP_GRACE_MS) continue;
      if (holds(await this.d.orders.get(r.orderId), r)) continue;
      if (!(await this.d.orders.release(r))) continue;
      fixed++;
      this.d.log.warn({ driverId: r.driverId, orderId: r.orderId, fence: r.fence }, 'reconcile: released a reservation no open order holds');
    }
    return { found: fixed, fixed };
  }

  /** One pass over the open orders: stuck ones are moved on, silent drivers flagged. */
  private async checkOpenOrders(now: number): Promise<Pick<ReconcileReport, 'stuckOrders' | 'silentDrivers'>> {
    const stuckOrders = { found: 0, fixed: 0 };
    const silentDrivers = { found: 0, flagged: 0 };
    for (const orderId of await this.d.orders.openOrders()) {
      const doc = await this.d.orders.get(orderId);
      // Another region's order (replicated, read-only here) is its home region's to move on.
      if (!doc || this.d.saga.isForeign(doc)) continue;
      if (this.isStuck(doc, now)) {
        stuckOrders.found++;
        if (await this.moveOn(doc, now)) stuckOrders.fixed++;
      } else if (doc.state === 'accepted' && doc.driverId !== undefined) {
        const view = await this.d.drivers.get(doc.driverId, now);
        if (view && now - view.ts <= this.d.options.offlineMs) continue;
        const lastSeenAt = view ? view.ts : null;
        if (isFlaggedSilent(doc, lastSeenAt)) continue;
        silentDrivers.found++;
        if (await this.flag(doc, lastSeenAt, now)) silentDrivers.flagged++;
      }
    }
    return { stuckOrders, silentDrivers };
  }

  private isStuck(doc: OrderDoc, now: number): boolean {
    const { graceMs } = this.d.options;
    if (doc.state === 'offered') return (doc.offerExpiresAt ?? 0) + graceMs <= now;
    if (doc.state === 'searching') return (doc.leaseUntil ?? 0) + graceMs <= now;
    return false;
  }

  /** The saga's own deadline step; repaired if the order is no longer stuck afterwards (whoever moved it). */
  private async moveOn(doc: OrderDoc, now: number): Promise<boolean> {
    const where = { orderId: doc.orderId, state: doc.state, deadline: doc.offerExpiresAt ?? doc.leaseUntil };
    try {
      await this.d.saga.onDeadline(doc.orderId, now, 'reconciler');
      const after = await this.d.orders.get(doc.orderId);
      const moved = !after || !this.isStuck(after, now);
      this.d.log.warn({ ...where, after: after?.state ?? 'gone' }, moved ? 'reconcile: moved a stuck order on' : 'reconcile: a stuck order did not move');
      return moved;
    } catch (err) {
      this.d.log.warn({ ...where, err: detailOf(err) }, 'reconcile: moving a stuck order on failed; retried next run');
      return false;
    }
  }

  private async flag(doc: OrderDoc, lastSeenAt: number | null, now: number): Promise<boolean> {
    const where = { orderId: doc.orderId, driverId: doc.driverId, silentMs: lastSeenAt === null ? null : now - lastSeenAt };
    try {
      const flagged = await this.d.saga.flagSilentDriver(doc, lastSeenAt, now, 'reconciler');
      if (flagged) this.d.log.warn(where, 'reconcile: the driver of an accepted order is silent past the offline threshold; flagged, not reassigned');
      return flagged;
    } catch (err) {
      this.d.log.warn({ ...where, err: detailOf(err) }, 'reconcile: flagging a silent driver failed; retried next run');
      return false;
    }
  }

  /**
   * Runs every `intervalMs` (never two runs at once: a tick while one runs is
   * skipped). Logs a summary only when a run found something; failures are
   * logged once per outage (FailureLog), and the next tick tries again.
   */
  start(intervalMs: number): void {
    this.periodic = new PeriodicTask(() => this.tick(), intervalMs);
    this.periodic.start();
  }

  private async tick(): Promise<void> {
    try {
      const report = await this.run(Date.now());
      this.failures.succeeded();
      if (totalFound(report) > 0) this.d.log.warn(report, 'reconciliation found inconsistencies');
    } catch (err) {
      this.failures.failed(err);
    }
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    await this.periodic?.stop();
  }
}

function holds(doc: OrderDoc | null, r: Reservation): boolean {
  return doc !== null && (doc.state === 'offered' || doc.state === 'accepted') && doc.driverId === r.driverId && doc.fence === r.fence;
}
