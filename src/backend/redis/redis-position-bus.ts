import { randomUUID } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { RedisFanout } from './redis-fanout.js';
import { ALL_AREAS, type AreaInterest, type DriverPosition, type PositionBus } from '../../tracking/position-bus.js';
import { areaOfPoint } from '../../geo/market-area.js';
import { Listeners } from '../listeners.js';
import { PositionBusMetrics } from './position-bus-metrics.js';
import { STATUS_CODE, STATUS_NAME } from './redis-layout.js';
import { VEHICLE_CODE, VEHICLE_NAME } from '../../domain/vehicle.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** One published message: the publisher's tag, its message number on this channel (1, 2, …), when it was published, the positions. */
type Message = [publisher: string, n: number, publishedAt: number, rows: Row[]];

/** One row per position: compact on the wire (a write carries thousands at peak). */
type Row = [
  driverId: string, lat: number, lng: number, ts: number, hdg: number | null, spd: number | null,
  seq?: number | null, status?: number | null, vehicle?: number | null,
  // Only on a replicated position (DriverPosition.region): local rows stay nine values long.
  region?: string, replicationAgeMs?: number,
];

/**
 * How long the publisher remembers the area it last published a driver in
 * (two generations of this, so between one and two): long enough for every
 * driver that keeps pinging (seconds apart), short enough that the drivers
 * of a day do not pile up. A driver silent for longer that reappears in
 * another area is not announced in its old one: followers of the old area
 * see its old position go stale, then offline.
 */
const AREA_MEMORY_MS = 10 * 60_000;

export interface RedisPositionBusOptions {
  /** HEXFLEET_REDIS_AREA_RESOLUTION: the area unit of the channels. */
  areaResolution: number;
  /** Where the bus's metrics go (the gateway's registry); default a private one. */
  registry?: Registry | undefined;
}

/**
 * Positions across gateways on Redis pub/sub, one channel per area.
 *
 *   gateway A: store write ok ──▶ local listeners (at once, every area)
 *                              └─▶ PUBLISH <prefix>positions:<area> msgpack [tag, n, publishedAt, rows]
 *                                     │   (and in the previous area's channel for a driver that left it)
 *         gateway B ◀── PSUBSCRIBE <prefix>positions:*      (read index of every market: the default)
 *         gateway C ◀── SUBSCRIBE  <prefix>positions:<X>    (read index of market X, HEXFLEET_MARKETS)
 *                       SUBSCRIBE  <prefix>positions:<Y>    (a tracked driver is in Y, while it is)
 *
 * Pub/sub, not streams: positions are latest-wins (an old one is worth
 * nothing once a newer exists), nobody needs a replay (a new subscriber reads
 * the last-known position from the store, which is the truth), and a stream
 * would add a write, trimming and per-gateway read cursors to every ping on
 * the hottest path. A message lost while a gateway reconnects to Redis is
 * covered by the next ping (seconds later), by the read index's resync and by
 * the status sweep, which shows `degraded` with the last-known age rather
 * than a stale position that looks fresh.
 *
 * Sharded by area (the market unit of src/geo/market-area.ts) so that the
 * decode cost of a gateway grows with what it follows, not with every
 * position of the deployment: one message per area per store write. An area
 * is subscribed while some interest in it is held (`follow`), every area by
 * one pattern subscription. Messages are numbered per publisher and channel:
 * a skipped number is a gap in that area, a number already seen (a channel
 * heard through both its subscription and the pattern while switching) a
 * duplicate, dropped. On a cluster, plain PUBLISH reaches the subscribers of
 * every node (no SPUBLISH: a shard channel would tie an area's subscribers to
 * the node of its slot and move them on resharding).
 */
export class RedisPositionBus implements PositionBus {
  private readonly listeners: Listeners<readonly DriverPosition[]>;
  private readonly gapListeners: Listeners<string | undefined>;
  /** `<prefix>positions:`, followed by the area. */
  private readonly channelPrefix: string;
  /** This publisher's tag and, per channel, the number of its last message there. */
  private readonly tag = randomUUID();
  private readonly sent = new Map<string, number>();
  /** The area each driver was last published in: this generation and the previous one (see AREA_MEMORY_MS). */
  private lastArea = new Map<string, string>();
  private lastAreaBefore = new Map<string, string>();
  private generationStart = Date.now();
  /** Per channel heard, per publisher tag, the number of the last message received. */
  private readonly received = new Map<string, Map<string, number>>();
  /** Interests held, per area (ALL_AREAS included). */
  private readonly interests = new Map<string, number>();
  /** Area channels subscribed (SUBSCRIBE sent), with the promise of the subscription. */
  private readonly subscribed = new Map<string, Promise<void>>();
  /** The pattern subscription, while every area is followed. */
  private pattern: Promise<void> | undefined;
  private readonly metrics: PositionBusMetrics;
  /** Nothing to wait for: areas are subscribed on demand (`follow`), each interest says when it is ready. */
  readonly ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly fanout: RedisFanout,
    prefix: string,
    private readonly log: Logger,
    private readonly options: RedisPositionBusOptions,
  ) {
    this.channelPrefix = prefix + 'positions:';
    // A listener that throws is logged and skipped: it stops neither the others nor the publisher (nor ioredis's reader).
    this.listeners = new Listeners((err) => log.error({ err }, 'position listener failed'));
    this.gapListeners = new Listeners((err) => log.error({ err }, 'position gap listener failed'));
    this.metrics = new PositionBusMetrics(options.registry ?? new Registry(), () => this.subscribed.size, () => (this.pattern ? 1 : 0));
    // A lost subscription loses what was published meanwhile, in any area: the numbering starts over.
    fanout.onReconnect(() => {
      this.received.clear();
      this.gapListeners.deliver(undefined);
    });
  }

  publish(positions: readonly DriverPosition[]): void {
    if (this.listeners.closed || positions.length === 0) return;
    this.listeners.deliver(positions);
    const now = Date.now();
    if (now - this.generationStart >= AREA_MEMORY_MS) {
      this.lastAreaBefore = this.lastArea;
      this.lastArea = new Map();
      this.generationStart = now;
    }
    const byArea = new Map<string, Row[]>();
    const add = (area: string, row: Row): void => {
      const rows = byArea.get(area);
      if (rows) rows.push(row);
      else byArea.set(area, [row]);
    };
    for (const p of positions) {
      const row: Row = [
        p.driverId, p.lat, p.lng, p.ts, p.hdg ?? null, p.spd ?? null,
        p.seq ?? null, p.status === undefined ? null : STATUS_CODE[p.status], p.vehicle === undefined ? null : VEHICLE_CODE[p.vehicle],
      ];
      if (p.region !== undefined) row.push(p.region, p.replicationAgeMs ?? 0);
      const area = areaOfPoint(p.lat, p.lng, this.options.areaResolution);
      add(area, row);
      const before = this.lastArea.get(p.driverId) ?? this.lastAreaBefore.get(p.driverId);
      // Left `before`: its followers see the driver go (the same row: they find it outside their area).
      if (before !== undefined && before !== area) add(before, row);
      if (before !== area || !this.lastArea.has(p.driverId)) this.lastArea.set(p.driverId, area);
    }
    for (const [area, rows] of byArea) {
      const channel = this.channelPrefix + area;
      const n = (this.sent.get(channel) ?? 0) + 1;
      this.sent.set(channel, n);
      const message: Message = [this.tag, n, now, rows];
      // Fire and forget: the driver's ack must not wait for subscribers elsewhere.
      this.fanout.publish(channel, packr.pack(message)).catch((err: Error) => {
        this.log.debug({ err: err.message }, 'position not published; the next ping carries a newer one');
      });
    }
  }

  subscribe(listener: (positions: readonly DriverPosition[]) => void): () => void {
    return this.listeners.add(listener);
  }

  follow(area: string): AreaInterest {
    if (this.listeners.closed) return { ready: Promise.resolve(), release() {} };
    this.interests.set(area, (this.interests.get(area) ?? 0) + 1);
    this.reconcile();
    const ready = (this.pattern ?? this.subscribed.get(area))!;
    let released = false;
    return {
      ready,
      release: () => {
        if (released || this.listeners.closed) return;
        released = true;
        const left = this.interests.get(area)! - 1;
        if (left > 0) this.interests.set(area, left);
        else this.interests.delete(area);
        this.reconcile();
      },
    };
  }

  onGap(listener: (area: string | undefined) => void): () => void {
    return this.gapListeners.add(listener);
  }

  /** Nothing is delivered or published afterwards; the fan-out connection belongs to the backend (it unsubscribes when it closes). */
  async close(): Promise<void> {
    this.listeners.close();
    this.gapListeners.close();
  }

  /**
   * Makes the subscriptions match the interests: the pattern while any
   * interest is in every area, else one channel per area. New subscriptions
   * are sent before the ones they replace are dropped (one connection,
   * commands in order), so a switch loses nothing; what is heard twice
   * meanwhile is dropped by its number.
   */
  private reconcile(): void {
    const all = this.interests.has(ALL_AREAS);
    if (all && !this.pattern) {
      this.pattern = this.fanout.listenPattern(this.channelPrefix + '*', (channel, raw) => this.onMessage(channel, raw)).catch((err: Error) => {
        this.log.warn({ err: err.message }, 'position bus pattern subscribe failed; retried on reconnect');
      });
    }
    for (const area of this.interests.keys()) {
      if (all || area === ALL_AREAS || this.subscribed.has(area)) continue;
      const channel = this.channelPrefix + area;
      this.subscribed.set(area, this.fanout.listen(channel, (raw) => this.onMessage(channel, raw)).catch((err: Error) => {
        this.log.warn({ err: err.message, area }, 'position bus subscribe failed; retried on reconnect');
      }));
    }
    for (const area of [...this.subscribed.keys()]) {
      if (!all && this.interests.has(area)) continue;
      this.subscribed.delete(area);
      const channel = this.channelPrefix + area;
      if (!all) this.received.delete(channel); // heard again later: numbering from there, not a gap
      this.fanout.unlisten(channel).catch(() => {}); // a lost connection drops it anyway
    }
    if (!all && this.pattern) {
      this.pattern = undefined;
      for (const channel of [...this.received.keys()]) if (!this.subscribed.has(channel.slice(this.channelPrefix.length))) this.received.delete(channel);
      this.fanout.unlistenPattern(this.channelPrefix + '*').catch(() => {});
    }
  }

  private onMessage(channel: string, raw: Buffer): void {
    if (this.listeners.closed) return;
    this.metrics.bytes.inc(raw.length);
    let message: Message;
    try {
      message = packr.unpack(raw) as Message;
      if (!Array.isArray(message) || !Array.isArray(message[3])) throw new Error('not [publisher, n, publishedAt, rows]');
    } catch (err) {
      this.metrics.messages.inc({ outcome: 'unreadable' });
      this.log.warn({ err: (err as Error).message, channel }, 'unreadable position bus message');
      return;
    }
    const [publisher, n, publishedAt, rows] = message;
    let heard = this.received.get(channel);
    if (!heard) this.received.set(channel, (heard = new Map()));
    const last = heard.get(publisher);
    if (last !== undefined && n <= last) {
      this.metrics.messages.inc({ outcome: 'duplicate' });
      return;
    }
    heard.set(publisher, n);
    this.metrics.messages.inc({ outcome: 'decoded' });
    this.metrics.positions.inc(rows.length);
    // A publisher's messages on a channel are numbered: a skipped number is a message this gateway missed there.
    if (last !== undefined && n !== last + 1) this.gapListeners.deliver(channel.slice(this.channelPrefix.length));
    const positions: DriverPosition[] = [];
    for (const r of rows) {
      const p: DriverPosition = { driverId: r[0], lat: r[1], lng: r[2], ts: r[3], publishedAt };
      if (r[4] !== null) p.hdg = r[4];
      if (r[5] !== null) p.spd = r[5];
      // Absent in messages of a gateway that does not send them (a rolling deploy).
      if (r[6] !== null && r[6] !== undefined) p.seq = r[6];
      if (r[7] !== null && r[7] !== undefined) p.status = STATUS_NAME[r[7]] ?? 'unknown';
      if (r[8] !== null && r[8] !== undefined) p.vehicle = VEHICLE_NAME[r[8]] ?? 'unknown';
      if (typeof r[9] === 'string' && typeof r[10] === 'number') {
        p.region = r[9];
        p.replicationAgeMs = r[10];
      }
      positions.push(p);
    }
    this.listeners.deliver(positions);
  }
}
