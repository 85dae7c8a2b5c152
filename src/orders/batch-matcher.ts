import { latLngToCell } from 'h3-js';
import type { Logger } from 'pino';
import type { DispatchPool } from '../matching/dispatch-pool.js';
import { HexfleetError } from '../protocol/error-codes.js';
import type { OrderDoc } from './order.js';
import type { RankedCandidate } from '../matching/candidate-search.js';
import type { OrderSaga } from './order-saga.js';

interface Waiting {
  doc: OrderDoc;
  resolve: (doc: OrderDoc) => void;
  reject: (err: unknown) => void;
}

/**
 * mode=batch: orders whose pickups share an H3 cell (at batchAreaResolution)
 * wait up to the batch window, then are assigned together by minimising the
 * total pickup ETA over each order's candidates (min-cost bipartite
 * assignment in the worker pool), instead of each taking its nearest driver
 * in arrival order. Each order then goes through the normal offer step with
 * its assigned driver first; if that driver was taken meanwhile, the order
 * falls back to its own ranked candidates.
 *
 *   order i ─┬─ candidate ETAs ─┐
 *   order j ─┘                  ├─▶ cost[orders × drivers] ─▶ solve ─▶ offer per order
 */
export class BatchMatcher {
  private readonly areas = new Map<string, Waiting[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly saga: OrderSaga,
    private readonly pool: DispatchPool,
    private readonly log: Logger,
    private readonly options: { windowMs: number; areaResolution: number },
  ) {}

  /** Resolves with the order after its batch was assigned (offered, failed, …). `doc` must be searching and owned. */
  submit(doc: OrderDoc): Promise<OrderDoc> {
    if (this.closed) return Promise.reject(new HexfleetError('shutting_down'));
    const area = latLngToCell(doc.request.pickup.lat, doc.request.pickup.lng, this.options.areaResolution);
    return new Promise((resolve, reject) => {
      let waiting = this.areas.get(area);
      if (!waiting) {
        this.areas.set(area, (waiting = []));
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          const batch = this.areas.get(area) ?? [];
          this.areas.delete(area);
          this.assign(batch).catch((err: unknown) => batch.forEach((w) => w.reject(err)));
        }, this.options.windowMs);
        this.timers.add(timer);
      }
      waiting.push({ doc, resolve, reject });
    });
  }

  private async assign(batch: Waiting[]): Promise<void> {
    const now = Date.now();
    const lists = await Promise.all(batch.map((w) => this.saga.candidates(w.doc, now)));
    const plan = await this.plan(lists);
    this.log.debug({ orders: batch.length }, 'batch assigned');
    await Promise.all(
      batch.map(async (w, i) => {
        try {
          w.resolve(await this.saga.search(w.doc, Date.now(), plan[i]));
        } catch (err) {
          w.reject(err);
        }
      }),
    );
  }

  /**
   * For each order, its candidates with the driver the solver gave it first
   * and drivers given to other orders removed.
   */
  async plan(lists: RankedCandidate[][]): Promise<RankedCandidate[][]> {
    const cols = new Map<string, number>();
    for (const list of lists) for (const c of list) if (!cols.has(c.driver.driverId)) cols.set(c.driver.driverId, cols.size);
    const rows = lists.length;
    const width = cols.size;
    if (rows === 0 || width === 0) return lists;
    const cost = new Float64Array(rows * width).fill(Infinity);
    lists.forEach((list, i) => list.forEach((c) => (cost[i * width + cols.get(c.driver.driverId)!] = c.etaS)));
    const assignment = await this.pool.solve(cost, rows, width);
    const ids = [...cols.keys()];
    const taken = new Map<string, number>();
    assignment.forEach((col, i) => {
      if (col >= 0) taken.set(ids[col]!, i);
    });
    return lists.map((list, i) => {
      const mine = list.filter((c) => taken.get(c.driver.driverId) === i);
      const free = list.filter((c) => !taken.has(c.driver.driverId));
      return [...mine, ...free];
    });
  }

  /**
   * Orders waiting now are answered by their own searches; nothing new is
   * collected. Searches every waiting order now, without the rest of its window, and
   * resolves once those searches settled: the pool they rank in must outlive
   * this call (close the pool after it).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const searches: Promise<void>[] = [];
    for (const batch of this.areas.values()) {
      for (const w of batch) searches.push(this.saga.search(w.doc, Date.now()).then(w.resolve, w.reject));
    }
    this.areas.clear();
    await Promise.allSettled(searches);
  }
}
