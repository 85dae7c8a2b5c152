import WebSocket from 'ws';
import { VEHICLE_SPEEDS_MS, type VehicleType } from '../domain/vehicle.js';
import { DriverClient } from '../sdk/driver-client.js';
import type { OfferFrame } from '../protocol/wire-frames.js';
import { CityArea, type LatLng } from './city-area.js';
import type { Rng } from './rng.js';
import type { SimStats } from './sim-stats.js';

/** Share of each vehicle in the fleet: couriers in European cities are mostly on bikes. */
export const VEHICLE_MIX: Record<VehicleType, number> = { walk: 0.1, bike: 0.45, scooter: 0.2, car: 0.25 };

/** GPS accuracy reported with each fix, metres (a phone outdoors). */
const GPS_ACC_M = 8;
/** How long an offer takes to answer: a courier glances at the phone. */
const ANSWER_DELAY_MS: readonly [number, number] = [300, 2_500];
/** An answer is never sent this close to the offer's expiry, so it is not a guaranteed `offer_expired`. */
const EXPIRY_MARGIN_MS = 500;
/** Mean time online between two offline breaks (a break every ~10 min keeps ~5 % of the fleet away). */
const MEAN_ONLINE_MS = 10 * 60_000;
/** A break lasts this long: a tunnel, a dead battery swap, a coffee. */
const OFFLINE_MS: readonly [number, number] = [10_000, 60_000];
/** How long going offline waits for its last ping (status offline) to be acked before closing the socket. */
const OFFLINE_ACK_WAIT_MS = 3_000;

export interface DriverSimDeps {
  area: CityArea;
  rng: Rng;
  stats: SimStats;
  /** `/v1/driver` URLs in the order this driver tries them (rotated per driver to spread the fleet). */
  urls: string[];
  /** The driver's token, or a function minting a fresh one (the SDK calls it before expiry and on reconnects). */
  token: string | (() => Promise<string>);
  /** PEM CA trusted for wss:// (`--ca`). */
  ca?: string;
  acceptProbability: number;
  /** Told when the gateway confirmed this driver's acceptance of an offer. */
  onAccepted: (orderId: string, driverId: string) => void;
  /** Told when the driver reached the drop-off of its order. */
  onDelivered: (orderId: string, driverId: string) => void;
}

interface Job {
  orderId: string;
  pickup: LatLng;
  dropoff: LatLng;
  pickedUp: boolean;
}

/**
 * One simulated courier: a DriverClient pinging once a second while moving
 * at its vehicle's speed between random waypoints (to the pickup, then the
 * drop-off, while on an order), answering offers, and now and then going
 * offline (status `offline`, socket closed) and coming back with a new
 * client that continues its seq.
 *
 * Time is driven from outside (`tick`) so that one timer moves the whole fleet.
 */
export class DriverSim {
  client: DriverClient | undefined;
  /** Offline on purpose (a break), as opposed to reconnecting. */
  offline = false;
  private pos: LatLng;
  private target: LatLng;
  private heading = 0;
  private lastTickAt: number | undefined;
  private job: Job | undefined;
  private nextBreakAt: number;
  private backAt = 0;
  private lastSeq: number | undefined;
  /** The seq up to which acks were counted. */
  private prevAcked = 0;
  private readonly speedMs: number;
  /** Answer timers of offers not answered yet: at most one or two per driver (it is reserved meanwhile). */
  private readonly answerTimers = new Set<ReturnType<typeof setTimeout>>();
  private closing = false;

  constructor(
    readonly id: string,
    readonly vehicle: VehicleType,
    private readonly d: DriverSimDeps,
  ) {
    this.pos = d.area.randomPoint(d.rng);
    this.target = d.area.randomPoint(d.rng);
    // The vehicle's typical city speed (domain/vehicle.ts), each driver within ±20 % of it.
    this.speedMs = VEHICLE_SPEEDS_MS[vehicle].typical * d.rng.between(0.8, 1.2);
    this.nextBreakAt = Date.now() + d.rng.exponential(MEAN_ONLINE_MS);
  }

  get orderId(): string | undefined {
    return this.job?.orderId;
  }

  /** Opens the client; pings start on the next tick. */
  connect(): void {
    if (this.closing) return;
    const client = new DriverClient({
      urls: this.d.urls,
      token: this.d.token,
      driverId: this.id,
      WebSocket,
      ...(this.d.ca === undefined ? {} : { ca: this.d.ca }),
      // A client that comes back continues its seq (what an app persisting lastSeq does).
      ...(this.lastSeq === undefined ? {} : { initialSeq: this.lastSeq }),
      // 10 minutes of pings at 1 Hz: a break never overflows it, a dead gateway shows as drops.
      bufferMaxPings: 600,
    });
    // Seqs go up by one per ping: an ack of N covers every ping since the last ack (count each once).
    this.prevAcked = client.lastSeq;
    client.on('ack', (seq) => {
      if (seq > this.prevAcked) this.d.stats.pingsAcked += seq - this.prevAcked;
      this.prevAcked = Math.max(this.prevAcked, seq);
    });
    client.on('state', (s) => {
      if (s === 'open') this.d.stats.driverConnects++;
    });
    client.on('error', (e) => this.d.stats.error(`driver:${e.code}`));
    client.onOffer((offer) => this.onOffer(offer));
    this.client = client;
  }

  /** Moves by the time since the last tick and sends one ping; handles breaks. */
  tick(now: number): void {
    if (this.closing) return;
    if (this.offline) {
      if (now >= this.backAt) this.comeBack(now);
      return;
    }
    const client = this.client;
    if (!client) return;
    if (!this.job && now >= this.nextBreakAt) {
      void this.goOffline(now);
      return;
    }
    const dtS = this.lastTickAt === undefined ? 0 : Math.min(5, (now - this.lastTickAt) / 1000);
    this.lastTickAt = now;
    this.move(dtS);
    client.ping({ lat: this.pos.lat, lng: this.pos.lng, ts: now, acc: GPS_ACC_M, spd: dtS > 0 ? round2(this.speedMs) : 0, hdg: round2(this.heading), status: this.job ? 'busy' : 'available' });
    this.d.stats.pingsSent++;
  }

  /** The order ended (completed or cancelled): available again, wandering. */
  release(orderId: string): void {
    if (this.job?.orderId !== orderId) return;
    this.job = undefined;
    this.target = this.d.area.randomPoint(this.d.rng);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.answerTimers) clearTimeout(t);
    this.answerTimers.clear();
    const c = this.client;
    this.client = undefined;
    if (c) await c.close();
  }

  private move(dtS: number): void {
    if (dtS <= 0) return;
    const to = this.job ? (this.job.pickedUp ? this.job.dropoff : this.job.pickup) : this.target;
    this.heading = CityArea.bearing(this.pos, to);
    this.pos = CityArea.moveTowards(this.pos, to, this.speedMs * dtS);
    if (this.pos.lat !== to.lat || this.pos.lng !== to.lng) return;
    if (!this.job) this.target = this.d.area.randomPoint(this.d.rng);
    else if (!this.job.pickedUp) this.job.pickedUp = true;
    else this.d.onDelivered(this.job.orderId, this.id);
  }

  private onOffer(offer: OfferFrame): void {
    this.d.stats.offersReceived++;
    const client = this.client;
    if (!client) return;
    const accept = !this.job && this.d.rng.chance(this.d.acceptProbability);
    const latest = offer.expiresAt - Date.now() - EXPIRY_MARGIN_MS;
    const delay = Math.max(0, Math.min(this.d.rng.between(...ANSWER_DELAY_MS), latest));
    const timer = setTimeout(() => {
      this.answerTimers.delete(timer);
      if (this.client !== client || this.closing) return;
      const reply = accept ? client.accept(offer.orderId) : client.reject(offer.orderId);
      reply.then(
        (state) => {
          if (!accept) {
            this.d.stats.offersRejected++;
            return;
          }
          if (state !== 'accepted') return void this.d.stats.error('offer:not_accepted');
          this.d.stats.offersAccepted++;
          const dropoff = offer.dropoff ?? this.d.area.randomPoint(this.d.rng);
          this.job = { orderId: offer.orderId, pickup: offer.pickup, dropoff, pickedUp: false };
          this.d.onAccepted(offer.orderId, this.id);
        },
        (err: { code?: string }) => {
          this.d.stats.offerReplyErrors++;
          this.d.stats.error(`offer:${err.code ?? 'failed'}`);
        },
      );
    }, delay);
    this.answerTimers.add(timer);
  }

  private async goOffline(now: number): Promise<void> {
    const client = this.client!;
    this.offline = true;
    this.backAt = now + this.d.rng.between(...OFFLINE_MS);
    this.d.stats.wentOffline++;
    const seq = client.ping({ lat: this.pos.lat, lng: this.pos.lng, ts: now, acc: GPS_ACC_M, spd: 0, status: 'offline' });
    this.d.stats.pingsSent++;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, OFFLINE_ACK_WAIT_MS);
      const off = client.on('ack', (s) => {
        if (s >= seq) done();
      });
    });
    this.lastSeq = client.lastSeq;
    for (const t of this.answerTimers) clearTimeout(t);
    this.answerTimers.clear();
    if (this.client === client) this.client = undefined;
    this.d.stats.driverDisconnects++;
    await client.close();
  }

  private comeBack(now: number): void {
    this.offline = false;
    this.nextBreakAt = now + this.d.rng.exponential(MEAN_ONLINE_MS);
    this.lastTickAt = undefined;
    this.d.stats.cameBack++;
    this.connect();
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
