import { randomUUID } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import type { RedisFanout } from './redis-fanout.js';
import type { DriverPosition, PositionBus } from '../../tracking/position-bus.js';
import { Listeners } from '../listeners.js';
import { STATUS_CODE, STATUS_NAME } from './redis-layout.js';
import { VEHICLE_CODE, VEHICLE_NAME } from '../../domain/vehicle.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** One row per position: compact on the wire (a write carries thousands at peak). */
/** One published message: the publisher's tag, its message number (1, 2, …), when it was published, the positions. */
type Message = [publisher: string, n: number, publishedAt: number, rows: Row[]];

type Row = [
  driverId: string, lat: number, lng: number, ts: number, hdg: number | null, spd: number | null,
  seq?: number | null, status?: number | null, vehicle?: number | null,
];

/**
 * Positions across gateways on one Redis pub/sub channel.
 *
 *   gateway A: store write ok ──▶ local listeners (at once)
 *                              └─▶ PUBLISH <prefix>positions msgpack rows[] ──▶ gateway B, C …
 *
 * Pub/sub, not streams: positions are latest-wins (an old one is worth
 * nothing once a newer exists), nobody needs a replay (a new subscriber reads
 * the last-known position from the store, which is the truth), and a stream
 * would add a write, trimming and per-gateway read cursors to every ping on
 * the hottest path. A message lost while a gateway reconnects to Redis is
 * covered by the next ping (seconds later) and by the status sweep, which
 * shows `degraded` with the last-known age rather than a stale position that
 * looks fresh.
 *
 * One channel for all drivers, one message per store write (the last
 * position of each driver in it): each gateway filters by the drivers its
 * subscribers watch. Per-driver channels would cost a SUBSCRIBE round trip
 * per watched driver and churn on every assignment; at the volumes of one
 * city (tens of thousands of positions/s fit one Redis channel) broadcast is
 * simpler. Sharding the channel by H3 area is the next step if it is not.
 */
export class RedisPositionBus implements PositionBus {
  private readonly listeners: Listeners<readonly DriverPosition[]>;
  private readonly channel: string;
  /** This publisher's tag and the number of its last message; each subscriber checks the numbers for gaps. */
  private readonly tag = randomUUID();
  private sent = 0;
  /** Per publisher tag, the number of the last message received (publishers come and go: bounded by the gateways of a deployment). */
  private readonly received = new Map<string, number>();
  private readonly gapListeners: Listeners<void>;
  /** Resolves once this gateway receives other gateways' positions. */
  readonly ready: Promise<void>;

  constructor(
    private readonly fanout: RedisFanout,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.channel = prefix + 'positions';
    // A listener that throws is logged and skipped: it stops neither the others nor the publisher (nor ioredis's reader).
    this.listeners = new Listeners((err) => log.error({ err }, 'position listener failed'));
    this.gapListeners = new Listeners((err) => log.error({ err }, 'position gap listener failed'));
    // A lost subscription loses what was published meanwhile: a gap, whoever published.
    fanout.onReconnect(() => this.gapListeners.deliver());
    this.ready = fanout.listen(this.channel, (raw) => this.onMessage(raw)).catch((err: Error) => {
      log.warn({ err: err.message }, 'position bus subscribe failed; retried on reconnect');
    });
  }

  publish(positions: readonly DriverPosition[]): void {
    if (this.listeners.closed || positions.length === 0) return;
    this.listeners.deliver(positions);
    this.sent++;
    const rows: Row[] = positions.map((p) => [
      p.driverId, p.lat, p.lng, p.ts, p.hdg ?? null, p.spd ?? null,
      p.seq ?? null, p.status === undefined ? null : STATUS_CODE[p.status], p.vehicle === undefined ? null : VEHICLE_CODE[p.vehicle],
    ]);
    // Fire and forget: the driver's ack must not wait for subscribers elsewhere.
    const message: Message = [this.tag, this.sent, Date.now(), rows];
    this.fanout.publish(this.channel, packr.pack(message)).catch((err: Error) => {
      this.log.debug({ err: err.message }, 'position not published; the next ping carries a newer one');
    });
  }

  subscribe(listener: (positions: readonly DriverPosition[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Nothing is delivered or published afterwards; the fan-out connection belongs to the backend. */
  async close(): Promise<void> {
    this.listeners.close();
    this.gapListeners.close();
  }

  onGap(listener: () => void): () => void {
    return this.gapListeners.add(listener);
  }

  private onMessage(raw: Buffer): void {
    if (this.listeners.closed) return;
    let message: Message;
    try {
      message = packr.unpack(raw) as Message;
      if (!Array.isArray(message) || !Array.isArray(message[3])) throw new Error('not [publisher, n, publishedAt, rows]');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'unreadable position bus message');
      return;
    }
    const [publisher, n, publishedAt, rows] = message;
    // A publisher's messages are numbered: a skipped number is a message this gateway missed.
    const last = this.received.get(publisher);
    this.received.set(publisher, n);
    if (last !== undefined && n !== last + 1) this.gapListeners.deliver();
    const positions: DriverPosition[] = [];
    for (const r of rows) {
      const p: DriverPosition = { driverId: r[0], lat: r[1], lng: r[2], ts: r[3], publishedAt };
      if (r[4] !== null) p.hdg = r[4];
      if (r[5] !== null) p.spd = r[5];
      // Absent in messages of a gateway that does not send them (a rolling deploy).
      if (r[6] !== null && r[6] !== undefined) p.seq = r[6];
      if (r[7] !== null && r[7] !== undefined) p.status = STATUS_NAME[r[7]] ?? 'unknown';
      if (r[8] !== null && r[8] !== undefined) p.vehicle = VEHICLE_NAME[r[8]] ?? 'unknown';
      positions.push(p);
    }
    this.listeners.deliver(positions);
  }
}
