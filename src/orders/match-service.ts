import { HexfleetError } from '../protocol/error-codes.js';
import type { HttpReply } from '../http/http-reply.js';
import { errorReply } from '../http/http-reply.js';
import type { BatchMatcher } from './batch-matcher.js';
import type { DispatchMetrics } from './dispatch-metrics.js';
import { requestHash } from './match-request.js';
import type { OrderDoc, OrderRequest } from './order.js';
import type { OrderSaga } from './order-saga.js';
import type { OrderStore } from './order-store.js';

/** What POST /v1/match answers about an order. */
export function assignmentView(doc: OrderDoc): Record<string, unknown> {
  const view: Record<string, unknown> = { orderId: doc.orderId, state: doc.state, attempt: doc.attempt };
  if (doc.driverId && doc.state !== 'failed' && doc.state !== 'searching') {
    Object.assign(view, { driverId: doc.driverId, distanceM: doc.distanceM, etaS: doc.etaS, etaSource: doc.etaSource });
  }
  if (doc.offerExpiresAt !== undefined) view.offerExpiresAt = doc.offerExpiresAt;
  if (doc.failReason) view.reason = doc.failReason;
  return view;
}

/**
 * The match API's decisions: idempotency (order id or Idempotency-Key, same
 * body), in-flight detection, immediate or batched search, and the answer.
 */
export class MatchService {
  constructor(
    private readonly saga: OrderSaga,
    private readonly orders: OrderStore,
    private readonly batch: BatchMatcher,
    private readonly metrics: DispatchMetrics,
    private readonly idempotencyTtlMs: number,
  ) {}

  async match(request: OrderRequest, idempotencyKey: string | undefined): Promise<HttpReply> {
    const started = performance.now();
    const reply = await this.decide(request, idempotencyKey).catch((err: unknown) => {
      if (err instanceof HexfleetError) return errorReply(err.code, err.message);
      throw err;
    });
    const outcome = reply.status === 200 ? String((reply.body as { state?: string }).state) : String((reply.body as { code?: string }).code);
    this.metrics.matches.inc({ outcome, mode: request.mode });
    this.metrics.matchLatency.observe({ mode: request.mode }, (performance.now() - started) / 1000);
    return reply;
  }

  private async decide(request: OrderRequest, idempotencyKey: string | undefined): Promise<HttpReply> {
    if (idempotencyKey !== undefined) {
      const bound = await this.orders.bindKey(idempotencyKey, request.orderId, this.idempotencyTtlMs);
      if (bound !== request.orderId) {
        return errorReply('idempotency_conflict', `Idempotency-Key already names order "${bound.slice(0, 128)}"`);
      }
    }
    const begun = await this.saga.begin(request, requestHash(request), Date.now());
    if (begun.kind === 'conflict') return errorReply('idempotency_conflict');
    if (begun.kind === 'in_flight') return errorReply('match_in_flight');
    if (begun.kind === 'existing') return { status: 200, body: assignmentView(begun.doc) };
    let doc: OrderDoc;
    try {
      doc = request.mode === 'batch' ? await this.batch.submit(begun.doc) : await this.saga.search(begun.doc, Date.now());
    } catch (err) {
      const code = err instanceof HexfleetError ? err.code : 'internal';
      await this.saga.abandon(begun.doc, code, Date.now()).catch(() => {});
      throw err;
    }
    if (doc.state === 'failed') {
      const reply = errorReply('no_driver');
      (reply.body as Record<string, unknown>).orderId = doc.orderId;
      (reply.body as Record<string, unknown>).reason = doc.failReason;
      return reply;
    }
    return { status: 200, body: assignmentView(doc) };
  }
}
