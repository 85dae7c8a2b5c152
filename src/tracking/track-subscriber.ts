import { CloseCodes } from '../protocol/error-codes.js';
import type { PositionFrame, TrackingServerFrame } from '../protocol/wire-frames.js';
import type { Bbox } from './bbox.js';
import type { DriverPosition } from './position-bus.js';
import type { TrackingMetrics } from './tracking-metrics.js';

/** How a subscriber's frames reach its socket; the hub never sees uWebSockets.js. */
export interface TrackTransport {
  /** Sends one frame in the connection's encoding. */
  send(frame: TrackingServerFrame): void;
  /** Bytes accepted but not yet written to the network. */
  bufferedAmount(): number;
  /** Closes the connection (idempotent). */
  close(code: number, reason: string): void;
}

/**
 * What the connection's token grants for as long as it lives: copied from
 * the token at upgrade. Which orders and areas it may watch is decided per
 * frame, before the hub sees it, by the gateway's authorize() (RBAC_TABLE).
 */
export interface TrackGrant {
  /** Token expiry, ms since the epoch: the sweep closes the connection then (4401). */
  expiresAt: number | undefined;
}

export interface SubscriberLimits {
  /** Least time between two position frames of one stream (1000 / HEXFLEET_TRACK_MAX_HZ). */
  intervalMs: number;
  /** Above this many unsent bytes, positions wait (latest wins). */
  softBytes: number;
  /** Above this many, even status and assignment frames cannot be queued: the socket is closed. */
  hardBytes: number;
}

/** A waiting position: a stream is either an order's (`orderId`) or one driver of an area (`bbox`). */
type Pending = { pos: DriverPosition; orderId: string } | { pos: DriverPosition; bbox: Bbox };

/** One position stream of a subscriber: an order, or one driver of its areas. */
interface Slot {
  lastSentAt: number;
  pending: Pending | undefined;
}

/**
 * One /v1/track connection: what it watches and the throttle of each of its
 * streams.
 *
 * Positions are latest-wins per stream (`o:<orderId>` or `d:<driverId>` for
 * area subscriptions): a position is sent at once when the stream's last one
 * left at least `intervalMs` ago and the socket is draining; otherwise it
 * waits in the stream's slot, replacing (dropping) any older waiting one, and
 * the hub's flush tick sends it later. Status and assignment frames are rare
 * and must not be lost, so they skip the throttle; only a socket past
 * `hardBytes` refuses them, and it is closed with 4008. A subscriber that
 * stays above `softBytes` is closed by the hub's sweep. Nothing here ever
 * waits, so a slow subscriber costs the others nothing.
 */
export class TrackSubscriber {
  readonly orders = new Set<string>();
  readonly areas = new Map<string, Bbox>();
  closed = false;
  /** When the socket was first seen above `softBytes` (undefined: it is draining). */
  overSince: number | undefined;
  private readonly slots = new Map<string, Slot>();
  private pendingCount = 0;

  constructor(
    readonly grant: TrackGrant,
    private readonly transport: TrackTransport,
    private readonly limits: SubscriberLimits,
    private readonly metrics: TrackingMetrics,
  ) {}

  get hasPending(): boolean {
    return this.pendingCount > 0;
  }

  /** Sends a frame that is not throttled (status, assignment, replies). */
  sendNow(frame: TrackingServerFrame): void {
    if (this.closed) return;
    if (this.transport.bufferedAmount() > this.limits.hardBytes) {
      this.close('slow_consumer');
      return;
    }
    this.transport.send(frame);
    if (frame.type === 'status' || frame.type === 'assignment' || frame.type === 'position') this.metrics.deliveries.inc({ type: frame.type });
  }

  /**
   * Offers a position to one stream; returns true when it is left waiting
   * (the hub then flushes this subscriber on its next tick).
   */
  offer(key: string, pending: Pending, now: number): boolean {
    if (this.closed) return false;
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { lastSentAt: -Infinity, pending: undefined }));
    if (slot.pending) {
      if (slot.pending.pos.ts > pending.pos.ts) return true; // Latest wins: an older fix never replaces a newer one.
      this.metrics.dropped.inc({ reason: this.overSince === undefined ? 'throttled' : 'backpressure' });
      slot.pending = pending;
      return true;
    }
    if (now - slot.lastSentAt >= this.limits.intervalMs && this.draining(now)) {
      this.emit(slot, pending, now);
      return false;
    }
    slot.pending = pending;
    this.pendingCount++;
    return true;
  }

  /** Sends the waiting positions whose interval has passed; returns whether some still wait. */
  flush(now: number): boolean {
    if (this.closed || this.pendingCount === 0) return false;
    if (!this.draining(now)) return true;
    for (const slot of this.slots.values()) {
      if (slot.pending && now - slot.lastSentAt >= this.limits.intervalMs) {
        const p = slot.pending;
        slot.pending = undefined;
        this.pendingCount--;
        this.emit(slot, p, now);
      }
    }
    return this.pendingCount > 0;
  }

  /** Forgets a stream (unsubscribe): a waiting position of it is never sent. */
  forget(key: string): void {
    const slot = this.slots.get(key);
    if (slot?.pending) this.pendingCount--;
    this.slots.delete(key);
  }

  /** Forgets idle streams (area drivers come and go); called by the sweep. */
  prune(now: number): void {
    for (const [key, slot] of this.slots) {
      if (!slot.pending && now - slot.lastSentAt > this.limits.intervalMs) this.slots.delete(key);
    }
  }

  /** Whether the socket has been above `softBytes` for longer than `ms` (checked now). */
  stuckFor(ms: number, now: number): boolean {
    return !this.draining(now) && this.overSince !== undefined && now - this.overSince >= ms;
  }

  close(reason: 'slow_consumer' | 'token_expired'): void {
    if (this.closed) return;
    this.closed = true;
    this.metrics.disconnects.inc({ reason });
    this.transport.close(CloseCodes[reason].code, reason);
  }

  private draining(now: number): boolean {
    if (this.transport.bufferedAmount() <= this.limits.softBytes) {
      this.overSince = undefined;
      return true;
    }
    this.overSince ??= now;
    return false;
  }

  private emit(slot: Slot, p: Pending, now: number): void {
    slot.lastSentAt = now;
    const { pos } = p;
    const ageMs = Math.max(0, now - pos.ts);
    const hdg = pos.hdg ?? null;
    const spd = pos.spd ?? null;
    // Two object literals, one shape each (not spreads: this runs for every delivery), fields in the documented order.
    const frame: PositionFrame = 'orderId' in p
      ? { type: 'position', orderId: p.orderId, driverId: pos.driverId, lat: pos.lat, lng: pos.lng, ts: pos.ts, ageMs, hdg, spd }
      : { type: 'position', driverId: pos.driverId, lat: pos.lat, lng: pos.lng, ts: pos.ts, ageMs, hdg, spd, bbox: p.bbox };
    // Only a position replicated from another region carries these (a local one keeps its shape).
    if (pos.region !== undefined) {
      frame.region = pos.region;
      frame.replicationAgeMs = pos.replicationAgeMs ?? 0;
    }
    this.transport.send(frame);
    this.metrics.deliveries.inc({ type: 'position' });
  }
}
