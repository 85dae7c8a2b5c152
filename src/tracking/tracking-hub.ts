import type { AssignmentFrame, StatusFrame } from '../protocol/wire-frames.js';
import type { Logger } from 'pino';
import type { AssignmentEvent } from '../orders/assignment-events.js';
import type { OrderStore } from '../orders/order-store.js';
import { HexfleetError } from '../protocol/error-codes.js';
import type { DriverStore, DriverView } from '../geo/driver-store.js';
import type { AssignmentBus } from './assignment-bus.js';
import { type Bbox, bboxContains, bboxKey } from './bbox.js';
import { type LinkState, type LinkThresholds, linkStateOf } from './link-state.js';
import { areaOfPoint } from '../geo/market-area.js';
import { bboxAreas } from './bbox-areas.js';
import type { AreaInterest, DriverPosition, PositionBus } from './position-bus.js';
import { RecentAssignments } from './recent-assignments.js';
import type { ReplicatedOrigins } from './replicated-origins.js';
import type { TrackingMetrics } from './tracking-metrics.js';
import type { TrackSubscriber } from './track-subscriber.js';

export interface TrackingHubOptions extends LinkThresholds {
  maxSubscriptions: number;
  /** A subscriber above its soft buffer limit this long is closed with 4008. */
  slowConsumerMs: number;
  /** How often waiting positions are flushed. */
  flushMs: number;
  /** How often statuses, token expiries and slow consumers are checked. */
  sweepMs: number;
  /** HEXFLEET_REDIS_AREA_RESOLUTION: the hub follows the areas its watched drivers and boxes are in. */
  areaResolution: number;
}

/**
 * A watched driver without a known position, or lost, is read again from the
 * store at most this often: its next positions may be published in an area
 * this gateway does not follow yet (a first ping, or a move while no
 * position reached us). Two seconds: a few pings of a 1 Hz driver.
 */
const RELOAD_MS = 2_000;
/**
 * Assignments heard on the bus are trusted this long for a first status
 * (no order read): a burst of customers follows an acceptance within
 * seconds, and a lost event cannot mislead one for longer than this.
 */
const HEARD_ASSIGNMENT_MS = 30_000;
/** Orders whose last event is kept: ~100 bytes each, 10 MB at most. */
const HEARD_ASSIGNMENTS = 100_000;

/** The orders watched on this gateway, each with the driver it shows. */
interface OrderWatch {
  orderId: string;
  subscribers: Set<TrackSubscriber>;
  /** Subscribers whose first status went out: only they get updates. */
  ready: Set<TrackSubscriber>;
  /** The accepted driver, or undefined while the order has none. */
  driverId: string | undefined;
  /** `at` of the newest event applied (events of several gateways may arrive out of order). */
  lastEventAt: number;
  /** Resolves once the order has been read from the order store. */
  loaded: Promise<void>;
  lastStatus: LinkState | undefined;
}

/** A driver that some watched order shows. */
interface DriverTrack {
  driverId: string;
  pos: DriverPosition | undefined;
  state: Exclude<LinkState, 'waiting'>;
  watches: Set<OrderWatch>;
  /** Resolves once the last-known position was read from the store. */
  loaded: Promise<void>;
  /** When it was last read from the store (ms), and whether a read is running. */
  loadedAt: number;
  loading: boolean;
  /** The area of its position and this gateway's interest in it, while it is watched. */
  area: string | undefined;
  interest: AreaInterest | undefined;
}

/**
 * Fans positions, statuses and saga transitions out to the tracking
 * subscribers of this gateway.
 *
 *   position bus ──▶ drivers[driverId] ──▶ watches[orderId] ──▶ subscribers (throttled, latest wins)
 *                └─▶ area subscribers (bbox filter)
 *   follows on the bus: the area of each watched driver (moved as it moves), the areas of each box
 *   assignment bus ──▶ watches[orderId]: assignment frame; driverId ← accepted driver
 *   sweep (one timer) ──▶ live/degraded/lost of every watched driver; slow consumers; expired tokens
 *
 * Guarantees: a subscriber gets its first status before any update of that
 * order (whether it may watch it is decided before the hub is asked: the
 * gateway's authorize()); a position is never older than one already sent on that stream;
 * every frame is a non-blocking send, so one subscriber's socket never
 * delays another's or the driver stream. Cost per position: the watches of
 * its driver plus the area subscribers; the sweep visits watched drivers and
 * connections, never a timer per subscriber.
 */
export class TrackingHub {
  private readonly watches = new Map<string, OrderWatch>();
  private readonly drivers = new Map<string, DriverTrack>();
  private readonly connections = new Set<TrackSubscriber>();
  private readonly areaSubscribers = new Set<TrackSubscriber>();
  private readonly dirty = new Set<TrackSubscriber>();
  /** Per area subscriber, per box key, its interests in the areas of the box. */
  private readonly boxInterests = new Map<TrackSubscriber, Map<string, AreaInterest[]>>();
  private readonly heard = new RecentAssignments(HEARD_ASSIGNMENT_MS, HEARD_ASSIGNMENTS);
  private readonly offs: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: {
      orders: Pick<OrderStore, 'get'>;
      drivers: Pick<DriverStore, 'get'>;
      positions: PositionBus;
      assignments: AssignmentBus;
      metrics: TrackingMetrics;
      log: Logger;
      options: TrackingHubOptions;
      /** Where replicated positions came from: positions read from the store, or published without it, get their region and replication age here. */
      origins?: ReplicatedOrigins;
    },
  ) {}

  start(): void {
    this.offs.push(this.deps.positions.subscribe((p) => this.onPositions(p, Date.now())));
    this.offs.push(this.deps.assignments.subscribe((e) => this.onEvent(e)));
    const { flushMs, sweepMs } = this.deps.options;
    this.timers = [setInterval(() => this.flush(Date.now()), flushMs), setInterval(() => this.sweep(Date.now()), sweepMs)];
    for (const t of this.timers) t.unref();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const off of this.offs.splice(0)) off();
    for (const track of this.drivers.values()) track.interest?.release();
    for (const boxes of this.boxInterests.values()) for (const interests of boxes.values()) for (const i of interests) i.release();
    this.boxInterests.clear();
  }

  attach(sub: TrackSubscriber): void {
    this.connections.add(sub);
  }

  /** Forgets everything the connection watched. */
  detach(sub: TrackSubscriber): void {
    for (const orderId of [...sub.orders]) this.unsubscribe(sub, orderId);
    for (const key of [...sub.areas.keys()]) this.unsubscribeArea(sub, key);
    this.connections.delete(sub);
    this.dirty.delete(sub);
  }

  /**
   * Starts watching an order and sends its current status, then its
   * last-known position if a driver is assigned. Throws
   * `too_many_subscriptions`. Subscribing twice re-sends the snapshot. The
   * caller has authorized the subscriber for this order.
   */
  async subscribe(sub: TrackSubscriber, orderId: string): Promise<void> {
    let watch = this.watches.get(orderId);
    if (!sub.orders.has(orderId)) {
      if (sub.orders.size + sub.areas.size >= this.deps.options.maxSubscriptions) throw new HexfleetError('too_many_subscriptions');
      if (!watch) {
        watch = { orderId, subscribers: new Set(), ready: new Set(), driverId: undefined, lastEventAt: -Infinity, loaded: Promise.resolve(), lastStatus: undefined };
        this.watches.set(orderId, watch);
        watch.loaded = this.loadOrder(watch);
      }
      sub.orders.add(orderId);
      watch.subscribers.add(sub);
      this.deps.metrics.subscriptions.inc({ kind: 'order' });
    }
    await watch!.loaded;
    const track = watch!.driverId === undefined ? undefined : this.drivers.get(watch!.driverId);
    if (track) await track.loaded;
    if (sub.closed || this.watches.get(orderId) !== watch || !watch!.subscribers.has(sub)) return;
    const now = Date.now();
    const status = this.statusFrame(watch!, now);
    watch!.lastStatus = status.state;
    sub.sendNow(status);
    watch!.ready.add(sub);
    const current = watch!.driverId === undefined ? undefined : this.drivers.get(watch!.driverId);
    if (current?.pos) this.offer(sub, 'o:' + orderId, { pos: current.pos, orderId }, now);
  }

  unsubscribe(sub: TrackSubscriber, orderId: string): void {
    if (!sub.orders.delete(orderId)) return;
    sub.forget('o:' + orderId);
    this.deps.metrics.subscriptions.dec({ kind: 'order' });
    const watch = this.watches.get(orderId);
    if (!watch) return;
    watch.subscribers.delete(sub);
    watch.ready.delete(sub);
    if (watch.subscribers.size === 0) {
      this.watches.delete(orderId);
      this.setDriver(watch, undefined, false);
    }
  }

  /** Positions of every driver inside `bbox` (throttled per driver); the caller has authorized it (admins only). */
  subscribeArea(sub: TrackSubscriber, bbox: Bbox): void {
    const key = bboxKey(bbox);
    if (sub.areas.has(key)) return;
    if (sub.orders.size + sub.areas.size >= this.deps.options.maxSubscriptions) throw new HexfleetError('too_many_subscriptions');
    sub.areas.set(key, bbox);
    this.areaSubscribers.add(sub);
    let boxes = this.boxInterests.get(sub);
    if (!boxes) this.boxInterests.set(sub, (boxes = new Map()));
    boxes.set(key, bboxAreas(bbox, this.deps.options.areaResolution).map((area) => this.deps.positions.follow(area)));
    this.deps.metrics.subscriptions.inc({ kind: 'area' });
  }

  unsubscribeArea(sub: TrackSubscriber, key: string): void {
    if (!sub.areas.delete(key)) return;
    this.deps.metrics.subscriptions.dec({ kind: 'area' });
    const boxes = this.boxInterests.get(sub);
    for (const interest of boxes?.get(key) ?? []) interest.release();
    boxes?.delete(key);
    if (sub.areas.size === 0) {
      this.areaSubscribers.delete(sub);
      this.boxInterests.delete(sub);
    }
  }

  private async loadOrder(watch: OrderWatch): Promise<void> {
    const heard = this.heard.get(watch.orderId, Date.now());
    if (heard) {
      // Announced on the bus moments ago (the burst after an acceptance): no order read.
      watch.lastEventAt = heard.at;
      this.setDriver(watch, heard.driverId, false);
      const track = watch.driverId === undefined ? undefined : this.drivers.get(watch.driverId);
      if (track) await track.loaded;
      return;
    }
    try {
      const doc = await this.deps.orders.get(watch.orderId);
      // An event that arrived meanwhile is newer than what was read.
      if (watch.lastEventAt === -Infinity && doc?.state === 'accepted') this.setDriver(watch, doc.driverId, false);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, orderId: watch.orderId }, 'tracking: order not readable; shown as waiting until its next event');
    }
    const track = watch.driverId === undefined ? undefined : this.drivers.get(watch.driverId);
    if (track) await track.loaded;
  }

  /** Points a watch at its driver (or none); `notify` sends the new status and position to its ready subscribers. */
  private setDriver(watch: OrderWatch, driverId: string | undefined, notify: boolean): void {
    if (watch.driverId === driverId) return;
    if (watch.driverId !== undefined) {
      const old = this.drivers.get(watch.driverId);
      old?.watches.delete(watch);
      if (old && old.watches.size === 0) {
        this.drivers.delete(old.driverId);
        old.interest?.release();
      }
    }
    watch.driverId = driverId;
    if (driverId === undefined) {
      if (notify) this.sendStatus(watch, Date.now());
      return;
    }
    let track = this.drivers.get(driverId);
    if (!track) {
      const created: DriverTrack = {
        driverId, pos: undefined, state: 'lost', watches: new Set(), loaded: Promise.resolve(), loadedAt: 0, loading: false, area: undefined, interest: undefined,
      };
      created.loaded = this.loadDriver(created);
      this.drivers.set(driverId, (track = created));
    }
    track.watches.add(watch);
    if (notify) {
      void track.loaded.then(() => {
        if (watch.driverId !== driverId || this.watches.get(watch.orderId) !== watch) return;
        const now = Date.now();
        this.sendStatus(watch, now);
        if (track.pos) for (const sub of watch.ready) this.offer(sub, 'o:' + watch.orderId, { pos: track.pos, orderId: watch.orderId }, now);
      });
    }
  }

  private async loadDriver(track: DriverTrack): Promise<void> {
    const now = Date.now();
    track.loading = true;
    track.loadedAt = now;
    try {
      const view = await this.deps.drivers.get(track.driverId, now);
      if (view && (!track.pos || view.ts > track.pos.ts)) {
        const pos = this.shown(positionOf(view));
        track.pos = pos;
        if (this.drivers.get(track.driverId) === track) this.followArea(track, pos);
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, driverId: track.driverId }, 'tracking: last-known position not readable');
    } finally {
      track.loading = false;
    }
    track.state = linkStateOf(track.pos ? Math.max(0, Date.now() - track.pos.ts) : undefined, this.deps.options);
  }

  /** Reads a watched driver's position again; a newer one than held is handled as if it came on the bus. */
  private async reloadDriver(track: DriverTrack): Promise<void> {
    track.loading = true;
    track.loadedAt = Date.now();
    try {
      const view = await this.deps.drivers.get(track.driverId, track.loadedAt);
      if (view && (!track.pos || view.ts > track.pos.ts) && this.drivers.get(track.driverId) === track) {
        this.onPositions([positionOf(view)], Date.now());
      }
    } catch (err) {
      this.deps.log.debug({ err: (err as Error).message, driverId: track.driverId }, 'tracking: watched driver not readable; read again at the next sweep');
    } finally {
      track.loading = false;
    }
  }

  /** Follows the area of a watched driver's position on the bus (the new area first, then the old one is let go: nothing falls between). */
  private followArea(track: DriverTrack, pos: DriverPosition): void {
    const area = areaOfPoint(pos.lat, pos.lng, this.deps.options.areaResolution);
    if (area === track.area) return;
    const before = track.interest;
    track.area = area;
    track.interest = this.deps.positions.follow(area);
    before?.release();
  }

  /** A position with its origin when it came from another region. */
  private shown(pos: DriverPosition): DriverPosition {
    return this.deps.origins ? this.deps.origins.annotate(pos) : pos;
  }

  private onPositions(positions: readonly DriverPosition[], now: number): void {
    for (const heard of positions) {
      const pos = this.shown(heard);
      const track = this.drivers.get(pos.driverId);
      if (track && (!track.pos || pos.ts >= track.pos.ts)) {
        track.pos = pos;
        this.followArea(track, pos);
        const state = linkStateOf(Math.max(0, now - pos.ts), this.deps.options);
        if (state !== track.state) {
          track.state = state;
          for (const w of track.watches) this.sendStatus(w, now);
        }
        for (const w of track.watches) for (const sub of w.ready) this.offer(sub, 'o:' + w.orderId, { pos, orderId: w.orderId }, now);
      }
      for (const sub of this.areaSubscribers) {
        for (const bbox of sub.areas.values()) {
          if (bboxContains(bbox, pos.lat, pos.lng)) {
            this.offer(sub, 'd:' + pos.driverId, { pos, bbox }, now);
            break;
          }
        }
      }
    }
  }

  private onEvent(e: AssignmentEvent): void {
    this.heard.note(e, Date.now());
    const watch = this.watches.get(e.orderId);
    if (!watch) return;
    const frame: AssignmentFrame = { type: 'assignment', orderId: e.orderId, state: e.state, event: e.type.replace('assignment.', ''), attempt: e.attempt, at: e.at };
    if (e.driverId !== undefined) frame.driverId = e.driverId;
    if (e.reason !== undefined) frame.reason = e.reason;
    for (const sub of watch.ready) sub.sendNow(frame);
    if (e.at < watch.lastEventAt) return; // A late event from another gateway: the newer one already set the driver.
    watch.lastEventAt = e.at;
    this.setDriver(watch, e.state === 'accepted' ? e.driverId : undefined, true);
  }

  private offer(sub: TrackSubscriber, key: string, p: { pos: DriverPosition; orderId: string } | { pos: DriverPosition; bbox: Bbox }, now: number): void {
    if (sub.offer(key, p, now)) this.dirty.add(sub);
  }

  private statusFrame(watch: OrderWatch, now: number): StatusFrame {
    const track = watch.driverId === undefined ? undefined : this.drivers.get(watch.driverId);
    const pos = track?.pos;
    const ageMs = pos ? Math.max(0, now - pos.ts) : undefined;
    const state: LinkState = track ? linkStateOf(ageMs, this.deps.options) : 'waiting';
    return { type: 'status', orderId: watch.orderId, state, lastTs: pos?.ts ?? null, ageMs: ageMs ?? null };
  }

  /** Sends the status to the watch's ready subscribers when it changed. */
  private sendStatus(watch: OrderWatch, now: number): void {
    const frame = this.statusFrame(watch, now);
    if (frame.state === watch.lastStatus) return;
    watch.lastStatus = frame.state;
    for (const sub of watch.ready) sub.sendNow(frame);
  }

  private flush(now: number): void {
    for (const sub of this.dirty) if (!sub.flush(now)) this.dirty.delete(sub);
  }

  private sweep(now: number): void {
    for (const track of this.drivers.values()) {
      if ((track.area === undefined || track.state === 'lost') && !track.loading && now - track.loadedAt >= RELOAD_MS) void this.reloadDriver(track);
      const state = linkStateOf(track.pos ? Math.max(0, now - track.pos.ts) : undefined, this.deps.options);
      if (state === track.state) continue;
      track.state = state;
      for (const w of track.watches) this.sendStatus(w, now);
    }
    const { slowConsumerMs } = this.deps.options;
    for (const sub of this.connections) {
      const exp = sub.grant.expiresAt;
      if (exp !== undefined && now >= exp) sub.close('token_expired');
      else if (sub.stuckFor(slowConsumerMs, now)) sub.close('slow_consumer');
      else sub.prune(now);
    }
  }
}

/** A stored driver's position as tracking shows it. */
function positionOf(view: DriverView): DriverPosition {
  const pos: DriverPosition = { driverId: view.driverId, lat: view.lat, lng: view.lng, ts: view.ts };
  if (view.hdg !== undefined) pos.hdg = view.hdg;
  if (view.spd !== undefined) pos.spd = view.spd;
  return pos;
}
