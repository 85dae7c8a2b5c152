import { HexfleetError } from '../protocol/error-codes.js';
import type { BatchMatcher } from './batch-matcher.js';
import type { DispatchMetrics } from './dispatch-metrics.js';
import { requestHash } from './match-request.js';
import type { OrderDoc, OrderRequest } from './order.js';
import type { OrderSaga } from './order-saga.js';
import type { OrderStore } from './order-store.js';

/**
 * The match API's decisions: idempotency (order id or Idempotency-Key, same
 * body), in-flight detection, immediate or batched search. Answers with the
 * order as it stands (offered, accepted, … or `failed` when no driver could
 * be reserved); refusals are thrown as HexfleetError (`idempotency_conflict`,
 * `match_in_flight`, or what the store raised). How that maps to HTTP is the
 * route's business.
 */
export class MatchService {
  constructor(
    private readonly saga: OrderSaga,
    private readonly orders: OrderStore,
    private readonly batch: BatchMatcher,
    private readonly metrics: DispatchMetrics,
    private readonly idempotencyTtlMs: number,
  ) {}

  async match(request: OrderRequest, idempotencyKey: string | undefined): Promise<OrderDoc> {
    const started = performance.now();
    let outcome = 'internal';
    try {
      const doc = await this.decide(request, idempotencyKey);
      outcome = doc.state === 'failed' ? 'no_driver' : doc.state;
      return doc;
    } catch (err) {
      if (err instanceof HexfleetError) outcome = err.code;
      throw err;
    } finally {
      this.metrics.matches.inc({ outcome, mode: request.mode });
      this.metrics.matchLatency.observe({ mode: request.mode }, (performance.now() - started) / 1000);
    }
  }

  private async decide(request: OrderRequest, idempotencyKey: string | undefined): Promise<OrderDoc> {
    if (idempotencyKey !== undefined) {
      const bound = await this.orders.bindKey(idempotencyKey, request.orderId, this.idempotencyTtlMs);
      if (bound !== request.orderId) {
        throw new HexfleetError('idempotency_conflict', `Idempotency-Key already names order "${bound.slice(0, 128)}"`);
      }
    }
    const hash = requestHash(request);
    if (request.mode === 'immediate') {
      // The fast path: a new order is created and offered in one backend round trip.
      const created = await this.saga.create(request, hash, Date.now());
      if (created.kind === 'done') return created.doc;
      if (created.kind === 'abandoned') throw created.error;
      if (created.kind === 'claimed') return this.searchOrAbandon(request, created.doc, created.refused);
    }
    const begun = await this.saga.begin(request, hash, Date.now());
    if (begun.kind === 'conflict') throw new HexfleetError('idempotency_conflict');
    if (begun.kind === 'in_flight') throw new HexfleetError('match_in_flight');
    if (begun.kind === 'existing') return begun.doc;
    return this.searchOrAbandon(request, begun.doc, []);
  }

  /** Searches a claimed order (batched or at once); a search that throws fails the order with the error's code, and rethrows. */
  private async searchOrAbandon(request: OrderRequest, doc: OrderDoc, refused: readonly string[]): Promise<OrderDoc> {
    try {
      return request.mode === 'batch' ? await this.batch.submit(doc) : await this.saga.search(doc, Date.now(), undefined, 'service', refused);
    } catch (err) {
      const code = err instanceof HexfleetError ? err.code : 'internal';
      await this.saga.abandon(doc, code, Date.now()).catch(() => {});
      throw err;
    }
  }
}
