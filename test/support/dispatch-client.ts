import { expect } from 'vitest';
import type { TokenService } from '../../src/auth/tokens.js';
import type { AssignmentEvent, InProcessEventSink } from '../../src/orders/assignment-events.js';
import type { OrderDoc, Point } from '../../src/orders/order.js';
import type { OrderStore } from '../../src/orders/order-store.js';
import type { VehicleType } from '../../src/domain/vehicle.js';
import type { DriverStatus, WirePing } from '../../src/protocol/wire-frames.js';
import { destination } from '../geo/geo-fixtures.js';
import { type ApiResult, httpRequest } from './http-request.js';
import { RawDriverClient, type Reply } from './raw-driver-client.js';

/**
 * The dispatch API as its users see it: HTTP requests for the order service
 * (POST /v1/match, assignment, cancel, complete) and driver apps on real
 * WebSockets that stream pings and answer offers. Shared by the dispatch and
 * tracking tests on the memory store, on Redis and against gateway processes.
 */

/** The body of a match request (what the order service sends). */
export interface MatchBody {
  orderId: string;
  pickup: Point;
  dropoff?: Point;
  radiusM?: number;
  requirements?: { vehicle?: VehicleType[] };
  mode?: 'immediate' | 'batch';
}

/** The match API of one gateway, as a `service`. */
export class MatchApi {
  constructor(
    readonly port: number,
    readonly token: string,
  ) {}

  match(body: MatchBody | string | unknown, { idempotencyKey, token = this.token }: { idempotencyKey?: string; token?: string } = {}): Promise<ApiResult> {
    return httpRequest(this.port, 'POST', '/v1/match', { token, body, headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey } });
  }

  assignment(orderId: string, token = this.token): Promise<ApiResult> {
    return httpRequest(this.port, 'GET', `/v1/orders/${encodeURIComponent(orderId)}/assignment`, { token });
  }

  cancel(orderId: string, token = this.token): Promise<ApiResult> {
    return httpRequest(this.port, 'POST', `/v1/orders/${encodeURIComponent(orderId)}/cancel`, { token });
  }

  complete(orderId: string, token = this.token): Promise<ApiResult> {
    return httpRequest(this.port, 'POST', `/v1/orders/${encodeURIComponent(orderId)}/complete`, { token });
  }

  /** The assignment, failing unless it is there. */
  async history(orderId: string): Promise<any> {
    const r = await this.assignment(orderId);
    if (r.status !== 200) throw new Error(`GET assignment of ${orderId}: ${r.status} ${r.text}`);
    return r.json;
  }
}

/** `{"type":"offer",…}` as a driver receives it. */
export interface OfferFrame {
  type: 'offer';
  orderId: string;
  pickup: Point;
  dropoff?: Point;
  expiresAt: number;
}

/** A reply frame with the fields dispatch adds (offer_result, offer errors). */
export type DispatchReply = Reply & { orderId?: string; state?: string };

/** A signed driver token, with a vehicle claim when given. */
export function driverToken(tokens: TokenService, driverId: string, vehicle?: VehicleType): Promise<string> {
  return tokens.sign(vehicle ? { role: 'driver', sub: driverId, vehicle } : { role: 'driver', sub: driverId });
}

/** How a driver app's ping is made: status (default `available`; `null` sends none), a backdated fix, heading and speed. */
export interface PingOptions {
  status?: DriverStatus | null;
  /** How old the fix is when sent (ms). */
  ageMs?: number;
  hdg?: number;
  spd?: number;
}

/**
 * A driver app scripted over the raw client: it numbers its pings, streams
 * its position and status, and receives and answers offers. `client` is the
 * socket, for a test that needs a frame the app would not send.
 */
export class OfferDriver {
  private seq = 0;

  constructor(
    readonly driverId: string,
    readonly client: RawDriverClient,
  ) {}

  /** Opens a socket to `ws://…/v1/driver`; the caller closes it (`terminate`). */
  static async open(url: string, tokens: TokenService, driverId: string, vehicle?: VehicleType): Promise<OfferDriver> {
    return new OfferDriver(driverId, await RawDriverClient.open(url, { queryToken: await driverToken(tokens, driverId, vehicle) }));
  }

  /** Sends one ping and waits for its ack; returns the ping as sent. */
  async ping(at: Point, o: PingOptions = {}): Promise<WirePing> {
    const p = this.nextPing(at, o);
    const r = await this.client.sendBatch([p]);
    if (r.type !== 'ack') throw new Error(`${this.driverId}: ping ${p.seq} refused: ${r.code} ${r.message}`);
    return p;
  }

  /** Sends one ping without waiting; resolves with its reply (ack or error). */
  pingNoWait(at: Point, o: PingOptions = {}): Promise<Reply> {
    return this.client.sendBatch([this.nextPing(at, o)]);
  }

  /** Every offer received so far, in arrival order. */
  get offers(): OfferFrame[] {
    return this.client.replies.filter((r) => r.type === 'offer') as unknown as OfferFrame[];
  }

  offersFor(orderId: string): OfferFrame[] {
    return this.offers.filter((o) => o.orderId === orderId);
  }

  /** The offer of `orderId` (already received or still to come). */
  async waitForOffer(orderId: string): Promise<OfferFrame> {
    const r = await this.client.waitForReply((x) => x.type === 'offer' && (x as DispatchReply).orderId === orderId, `${this.driverId}: offer of ${orderId}`);
    return r as unknown as OfferFrame;
  }

  /** Answers an offer; resolves with the gateway's answer to this very frame (offer_result or an error naming the order). */
  async reply(orderId: string, accept: boolean): Promise<DispatchReply> {
    const answer = this.client.nextReply(
      (r) => (r.type === 'offer_result' || r.type === 'error') && (r as DispatchReply).orderId === orderId,
      `${this.driverId}: answer to offer_reply ${orderId}`,
    );
    this.client.send({ type: 'offer_reply', orderId, accept });
    return (await answer) as DispatchReply;
  }

  /** Waits for the offer of `orderId` and answers it; resolves with the gateway's answer. */
  async answerOffer(orderId: string, accept: boolean): Promise<DispatchReply> {
    await this.waitForOffer(orderId);
    return this.reply(orderId, accept);
  }

  terminate(): Promise<void> {
    return this.client.terminate();
  }

  private nextPing(at: Point, { status = 'available', ageMs = 0, hdg, spd }: PingOptions): WirePing {
    const p: WirePing = { seq: ++this.seq, lat: at.lat, lng: at.lng, ts: Date.now() - ageMs };
    if (status !== null) p.status = status;
    if (hdg !== undefined) p.hdg = hdg;
    if (spd !== undefined) p.spd = spd;
    return p;
  }
}

/** `northM` / `eastM` metres from `base`, rounded to 1e-7° as the stores keep positions. */
export function offset(base: Point, northM: number, eastM = 0): Point {
  const [lat1, lng1] = destination(base.lat, base.lng, 0, northM);
  const [lat, lng] = destination(lat1, lng1, 90, eastM);
  return { lat: Math.round(lat * 1e7) / 1e7, lng: Math.round(lng * 1e7) / 1e7 };
}

/** Every event a gateway's in-process sink publishes from now on. */
export class EventLog {
  readonly events: AssignmentEvent[] = [];
  readonly stop: () => void;

  constructor(sink: InProcessEventSink) {
    this.stop = sink.subscribe((e) => this.events.push(e));
  }

  of(orderId: string): AssignmentEvent[] {
    return this.events.filter((e) => e.orderId === orderId);
  }

  /** The event types of one order, without the `assignment.` prefix. */
  types(orderId: string): string[] {
    return this.of(orderId).map((e) => e.type.replace('assignment.', ''));
  }
}

/**
 * Every transition in an order's history was published once, in order, with
 * the state it led to; `search_resumed` (an ownership change, not a
 * transition) has no event.
 */
export function expectEventsFollowHistory(log: EventLog, doc: { orderId: string; history: { event: string; attempt: number; driverId?: string }[] }): void {
  const transitions = doc.history.filter((h) => h.event !== 'search_resumed');
  const events = log.of(doc.orderId);
  expect(events.map((e) => e.type), `events of ${doc.orderId}`).toEqual(transitions.map((h) => `assignment.${h.event}`));
  events.forEach((e, i) => {
    const h = transitions[i]!;
    expect(e.state, `state after ${e.type}`).toBe(STATE_AFTER[h.event]);
    expect(e.attempt).toBe(h.attempt);
    if (h.driverId !== undefined) expect(e.driverId).toBe(h.driverId);
  });
}

/** The order's state after each transition: a rejected or expired offer goes back to searching for the next candidate. */
const STATE_AFTER: Record<string, string> = {
  offered: 'offered', accepted: 'accepted', rejected: 'searching', expired: 'searching',
  cancelled: 'cancelled', failed: 'failed', completed: 'completed',
};

/** The states in which an order holds its driver. */
const HOLDING = new Set(['offered', 'accepted']);

/**
 * No driver is in two open assignments, checked from the store: every
 * reservation belongs to an order that is offered or accepted to that very
 * driver with that fence, every such order holds its driver's reservation,
 * and no driver is the driverId of two such orders. Returns the orders that
 * hold a driver.
 */
export async function expectNoDoubleAssignment(orders: OrderStore, orderIds: readonly string[], driverIds: readonly string[]): Promise<OrderDoc[]> {
  const docs = (await Promise.all(orderIds.map((id) => orders.get(id)))).filter((d): d is OrderDoc => d !== null);
  const holding = docs.filter((d) => HOLDING.has(d.state));
  const byDriver = new Map<string, string[]>();
  for (const d of holding) byDriver.set(d.driverId!, [...(byDriver.get(d.driverId!) ?? []), d.orderId]);
  const doubled = [...byDriver].filter(([, ids]) => ids.length > 1);
  expect(doubled, 'drivers that are the driver of two open orders').toEqual([]);

  const reservations = await orders.reservations();
  const reservedDrivers = reservations.map((r) => r.driverId);
  expect(new Set(reservedDrivers).size, 'one reservation per driver').toBe(reservedDrivers.length);
  for (const r of reservations) {
    const doc = holding.find((d) => d.orderId === r.orderId);
    expect(doc, `the order ${r.orderId} holding ${r.driverId}'s reservation is open with that driver`).toMatchObject({ driverId: r.driverId, fence: r.fence });
  }
  for (const d of holding) {
    expect(await orders.reservationOf(d.driverId!), `${d.driverId}'s reservation for ${d.orderId}`).toMatchObject({ driverId: d.driverId, orderId: d.orderId, fence: d.fence });
  }
  for (const id of driverIds) expect((byDriver.get(id) ?? []).length).toBeLessThanOrEqual(1);
  return holding;
}

/**
 * Watches events as they are published and records any moment a driver is
 * offered while another order still holds it (the live view of
 * `expectNoDoubleAssignment`). Valid for events of one process, which are
 * published in commit order.
 */
export class HolderTracker {
  readonly violations: string[] = [];
  private readonly holder = new Map<string, string>();
  readonly stop: () => void;

  constructor(sinks: InProcessEventSink[]) {
    const offs = sinks.map((s) => s.subscribe((e) => this.on(e)));
    this.stop = () => offs.forEach((off) => off());
  }

  private on(e: AssignmentEvent): void {
    if (!e.driverId) return;
    const held = this.holder.get(e.driverId);
    if (e.type === 'assignment.offered') {
      if (held !== undefined && held !== e.orderId) this.violations.push(`${e.driverId} offered ${e.orderId} while holding ${held}`);
      this.holder.set(e.driverId, e.orderId);
    } else if (['assignment.rejected', 'assignment.expired', 'assignment.cancelled', 'assignment.completed'].includes(e.type) && held === e.orderId) {
      this.holder.delete(e.driverId);
    }
  }
}
