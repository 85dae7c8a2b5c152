import type { VehicleType } from '../domain/vehicle.js';

/**
 * The assignment of one order, as the order store keeps it.
 *
 *                 ┌──────── reject / expire (release driver, next candidate) ───────┐
 *                 ▼                                                                  │
 *   (match) ─▶ searching ──reserve driver──▶ offered ──accept──▶ accepted ──▶ completed
 *                 │                             │                   │
 *                 └─ no candidate / attempts ─▶ failed              │
 *   searching, offered, accepted ──cancel (release driver)──▶ cancelled
 *
 * `searching` is owned by one process until `leaseUntil`; if that process
 * dies, any gateway takes the search over when the lease passes. An offered
 * order's deadline is `offerExpiresAt`; any gateway expires it.
 */
export type OrderState = 'searching' | 'offered' | 'accepted' | 'completed' | 'failed' | 'cancelled';

export const OPEN_STATES: readonly OrderState[] = ['searching', 'offered', 'accepted'];

export interface Point {
  lat: number;
  lng: number;
}

export interface OrderRequest {
  orderId: string;
  pickup: Point;
  dropoff?: Point;
  radiusM: number;
  requirements?: { vehicle?: VehicleType[] };
  mode: 'immediate' | 'batch';
}

/** `driver_silent`: reconciliation flagged the accepted driver as silent past the offline threshold (no state change). */
export type HistoryEvent = 'offered' | 'accepted' | 'rejected' | 'expired' | 'cancelled' | 'failed' | 'completed' | 'search_resumed' | 'driver_silent';

export interface HistoryEntry {
  at: number;
  event: HistoryEvent;
  attempt: number;
  driverId?: string;
  reason?: string;
}

export interface OrderDoc {
  orderId: string;
  state: OrderState;
  request: OrderRequest;
  /** SHA-256 of the canonical request: the same order id with another body is a conflict. */
  requestHash: string;
  /** Offers made so far. */
  attempt: number;
  /** The driver offered or assigned (offered, accepted, completed). */
  driverId?: string;
  /** Fencing token of the current reservation; a writer with an older one cannot touch it. */
  fence?: number;
  offerExpiresAt?: number;
  distanceM?: number;
  etaS?: number;
  etaSource?: 'provider' | 'fallback';
  /** Drivers already offered this order: never offered it again. */
  tried: string[];
  history: HistoryEntry[];
  failReason?: string;
  /** searching: the owning process's lease. */
  leaseUntil?: number;
  createdAt: number;
  updatedAt: number;
  /**
   * The region that created the order and alone may match, offer, accept,
   * cancel or complete it (regions with ownership, src/ownership/ownership.ts);
   * the other regions hold it read-only, replicated. Absent: a deployment
   * without regions (every gateway may move it on).
   */
  homeRegion?: string;
  /** Managed by the store: bumped by every commit (compare-and-set). */
  version: number;
}

export function isOpen(state: OrderState): boolean {
  return OPEN_STATES.includes(state);
}
