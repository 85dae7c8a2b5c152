/**
 * Every frame of `/v1/driver` and `/v1/track`, in both directions: the one
 * definition the gateway builds its frames against and the SDK reads them
 * with. Both endpoints accept JSON text or msgpack binary frames of the same
 * shape and answer in kind; see docs/driver-protocol.md and docs/tracking-protocol.md.
 */

/** Driver status as the gateway stores it (sticky until changed). */
export type DriverStatus = 'available' | 'busy' | 'offline';

/** One GPS fix as it travels in a `pings` frame. */
export interface WirePing {
  /** Per-driver, strictly increasing; the store applies each seq at most once. */
  seq: number;
  lat: number;
  lng: number;
  /** Fix time, ms since the epoch. */
  ts: number;
  acc?: number;
  spd?: number;
  hdg?: number;
  status?: DriverStatus;
}

/** `[minLng, minLat, maxLng, maxLat]`, GeoJSON order (`minLng > maxLng` crosses the antimeridian). */
export type WireBbox = readonly [minLng: number, minLat: number, maxLng: number, maxLat: number];

/** A point as the dispatch API sends it. */
export interface WirePoint {
  lat: number;
  lng: number;
}

// ── /v1/driver ──────────────────────────────────────────────────────────────

/** Client → server: a batch of pings. */
export interface PingsFrame {
  type: 'pings';
  pings: WirePing[];
}

/** Client → server: the answer to an offer. */
export interface OfferReplyFrame {
  type: 'offer_reply';
  orderId: string;
  accept: boolean;
}

/** Server → client: every non-rejected ping of the batch with seq ≤ `seq` is stored. */
export interface AckFrame {
  type: 'ack';
  seq: number;
}

/**
 * Server → client: a rejection. With `seq` for a ping (or, for
 * `store_unavailable`/`overloaded`/`shutting_down`, the whole batch ending at
 * `seq`); with `orderId` for an offer reply; with neither for a frame.
 */
export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  seq?: number;
  orderId?: string;
}

/**
 * Server → client: the one reply about a `pings` frame with more than one
 * rejected ping (a frame with exactly one gets that ping's ErrorFrame, with
 * its seq). Bounded whatever the batch: counts by code, and the first
 * rejections by seq. Pings not listed and not acked are rejected too, except
 * the rate-limited ones: every valid ping from `retryFromSeq` on was refused
 * for the connection's rate, and may be resent as it is. When `accepted` is 0
 * no ack follows; otherwise an ack (or a batch error) about the accepted
 * pings does.
 */
export interface PingsRejectedFrame extends ErrorFrame {
  code: 'pings_rejected';
  /** Rejected pings by code (rate_limited included). */
  counts: Record<string, number>;
  /** The first rejected pings that had a usable seq, in frame order (at most PINGS_REJECTED_LISTED). */
  rejected: { seq: number; code: string }[];
  retryFromSeq?: number;
  /** Pings of the frame submitted to the store. */
  accepted: number;
}

/** How many rejections a `pings_rejected` frame lists by seq. */
export const PINGS_REJECTED_LISTED = 10;

/** Server → client: an order offered to this driver. */
export interface OfferFrame {
  type: 'offer';
  orderId: string;
  pickup: WirePoint;
  dropoff?: WirePoint;
  /** ms since the epoch; an answer after it gets `offer_expired`. */
  expiresAt: number;
}

/**
 * Client → server, on both endpoints: a fresh token for the connection's
 * subject and role, sent before the current one expires, so a long session
 * goes on without reconnecting. Answered with `auth_ok`, or an error frame
 * (`token_mismatch`, `unauthorized`, `token_revoked`, `unknown_key`).
 */
export interface AuthFrame {
  type: 'auth';
  token: string;
}

/** Server → client: the auth frame was accepted; the socket now lives until `expiresAt` (ms since the epoch). */
export interface AuthOkFrame {
  type: 'auth_ok';
  expiresAt: number;
}

/** Server → client: the outcome of an `offer_reply`. */
export interface OfferResultFrame {
  type: 'offer_result';
  orderId: string;
  state: 'accepted' | 'rejected';
}

export type DriverClientFrame = PingsFrame | OfferReplyFrame | AuthFrame;
export type DriverServerFrame = AckFrame | ErrorFrame | PingsRejectedFrame | OfferFrame | OfferResultFrame | AuthOkFrame;

// ── /v1/track ───────────────────────────────────────────────────────────────

/** Client → server: start or stop watching an order. */
export interface SubscriptionFrame {
  type: 'subscribe' | 'unsubscribe';
  orderId: string;
}

/** Client → server (admin tokens): start or stop watching every driver inside a box. */
export interface AreaSubscriptionFrame {
  type: 'subscribe_area' | 'unsubscribe_area';
  bbox: WireBbox;
}

/** Server → client: the answer to `unsubscribe` (a `subscribe` is answered by the order's `status`). */
export interface UnsubscribedFrame {
  type: 'unsubscribed';
  orderId: string;
}

/** Server → client: the answer to `subscribe_area` / `unsubscribe_area`. */
export interface AreaSubscribedFrame {
  type: 'area_subscribed' | 'area_unsubscribed';
  bbox: WireBbox;
}

/** What every position frame carries; `ageMs` is computed by the server when it sends the frame. */
interface PositionFields {
  type: 'position';
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  ageMs: number;
  /** Heading in degrees and speed in m/s; `null` when the driver's ping did not carry them. */
  hdg: number | null;
  spd: number | null;
  /**
   * Set only on a position that came from another region (cross-region
   * replication): the region whose gateway accepted it. A position accepted
   * by this gateway's own region has neither field.
   */
  region?: string;
  /** With `region`: ms from its acceptance there to its application here (the replication age; clock skew between regions adds to it). */
  replicationAgeMs?: number;
}

/**
 * Where a position came from when another region accepted it: what position
 * frames and the last-known and nearby answers add to such a position.
 */
export interface ReplicatedOrigin {
  region: string;
  replicationAgeMs: number;
}

/** Server → client: the courier of an order moved. */
export interface OrderPositionFrame extends PositionFields {
  orderId: string;
}

/** Server → client: a driver inside a watched area moved (admin area subscriptions). */
export interface AreaPositionFrame extends PositionFields {
  bbox: WireBbox;
}

export type PositionFrame = OrderPositionFrame | AreaPositionFrame;

/** How fresh the tracking of an order is. */
export type TrackingState = 'waiting' | 'live' | 'degraded' | 'lost';

/** Server → client: the tracking state of an order (sent on subscribe and on every change). */
export interface StatusFrame {
  type: 'status';
  orderId: string;
  state: TrackingState;
  /** Fix time of the courier's last known position; `null` before the first. */
  lastTs: number | null;
  ageMs: number | null;
}

/** Server → client: a saga transition of the order (offered, accepted, …). */
export interface AssignmentFrame {
  type: 'assignment';
  orderId: string;
  /** The order's state after the transition. */
  state: string;
  /** The transition: offered, accepted, rejected, expired, cancelled, failed, completed, driver_silent. */
  event: string;
  attempt: number;
  /** When it was committed, ms since the epoch. */
  at: number;
  driverId?: string;
  reason?: string;
}

/** Server → client: a rejected tracking frame, with the order or box it was about. */
export interface TrackingErrorFrame extends ErrorFrame {
  bbox?: WireBbox;
}

export type TrackingClientFrame = SubscriptionFrame | AreaSubscriptionFrame | AuthFrame;
export type TrackingServerFrame = OrderPositionFrame | AreaPositionFrame | StatusFrame | AssignmentFrame | UnsubscribedFrame | AreaSubscribedFrame | TrackingErrorFrame | AuthOkFrame;
