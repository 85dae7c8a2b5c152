import { orderEventId, type OrderEvent } from '../orders/order-events.js';
import type { OrderDoc, Point } from '../orders/order.js';

/**
 * What the order service sees of an order: its state and assignment, not
 * the store's bookkeeping (request hash, fencing token, lease, drivers
 * already tried, history).
 */
export interface WebhookOrder {
  orderId: string;
  state: OrderDoc['state'];
  mode: OrderDoc['request']['mode'];
  pickup: Point;
  dropoff?: Point;
  /** Offers made so far. */
  attempt: number;
  driverId?: string;
  distanceM?: number;
  etaS?: number;
  etaSource?: 'provider' | 'fallback';
  offerExpiresAt?: number;
  failReason?: string;
  createdAt: number;
  updatedAt: number;
}

/** The JSON body of a webhook request: one order event. */
export interface WebhookBody {
  /** `<orderId>:<version>` (also in X-Hexfleet-Event-Id): the deduplication key. */
  id: string;
  type: string;
  orderId: string;
  version: number;
  actor: string;
  reason?: string;
  /** Commit time of the transition, ms since the epoch. */
  at: number;
  order: WebhookOrder;
}

export function webhookBody(e: OrderEvent): WebhookBody {
  const d = e.doc;
  const order: WebhookOrder = {
    orderId: d.orderId ?? e.orderId,
    state: d.state,
    mode: d.request?.mode,
    pickup: d.request?.pickup,
    attempt: d.attempt,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
  if (d.request?.dropoff) order.dropoff = d.request.dropoff;
  // A driver is part of the answer only while it holds the order (as GET /v1/orders/:id/assignment says).
  if (d.driverId && d.state !== 'failed' && d.state !== 'searching') {
    Object.assign(order, { driverId: d.driverId, distanceM: d.distanceM, etaS: d.etaS, etaSource: d.etaSource });
  }
  if (d.offerExpiresAt !== undefined) order.offerExpiresAt = d.offerExpiresAt;
  if (d.failReason) order.failReason = d.failReason;
  const body: WebhookBody = { id: orderEventId(e.orderId, e.version), type: e.type, orderId: e.orderId, version: e.version, actor: e.actor, at: e.at, order };
  if (e.reason !== undefined) body.reason = e.reason;
  return body;
}
