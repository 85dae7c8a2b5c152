import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DriverIndex } from '../geo/driver-index.js';
import { FailureLog } from '../runtime/failure-log.js';
import { type DriverRecord, type DriverStore, type DriverView, type NearbyDriver, type NearbyOptions, type NearbyReader, type StoreTiming, viewOf } from '../geo/driver-store.js';
import { ALL_AREAS, type AreaInterest, type DriverPosition, type PositionBus } from '../tracking/position-bus.js';
import { MarketCoverage } from './market-coverage.js';

export interface ReadIndexOptions {
  /** H3 resolution of the backend's cell index (HEXFLEET_H3_RESOLUTION). */
  resolution: number;
  timing: StoreTiming;
  /** Serve from the backend while the follower lags more than this (HEXFLEET_READ_INDEX_MAX_LAG_MS). */
  maxLagMs: number;
  /** How often the follower takes silent drivers out of its index, as the backend's sweeper does. */
  sweepIntervalMs: number;
  /** Wait between failed bootstrap attempts (and the least time between two resyncs). */
  retryMs?: number;
  /**
   * The areas (cells at `areaResolution`) whose drivers this follower holds
   * (HEXFLEET_MARKETS, resolved by parseMarkets); undefined: every area.
   */
  markets?: readonly string[] | undefined;
  /** HEXFLEET_REDIS_AREA_RESOLUTION: the unit of `markets` and of the position bus's channels. */
  areaResolution: number;
  /** The largest nearby radius (HEXFLEET_NEARBY_MAX_RADIUS_M): how far around its markets a follower looks for borders. */
  maxRadiusM: number;
}

/**
 * A gateway-local follower of the backend's driver index (issue 10): a
 * DriverIndex in this process, bootstrapped from the backend (`scan`) and
 * then fed by the applied positions every gateway publishes (the position
 * bus carries each stored record's seq, status and vehicle). Nearby reads —
 * the HTTP route and match candidate search — cost microseconds instead of a
 * Redis round trip; everything that must be atomic (reserve, offer, accept)
 * still goes to the backend, which re-checks availability and freshness, so
 * a slightly stale candidate costs a retry, never a wrong assignment.
 *
 * Guarantees:
 * - application is seq-monotonic (DriverIndex.apply): the bootstrap scan and
 *   live positions may arrive in any order and duplicated, the follower ends
 *   where the backend is;
 * - a gap (a publisher's message skipped: a lost subscription) starts a
 *   resync (a fresh scan applied over what is held);
 * - while bootstrapping or resyncing, or while positions arrive later than
 *   `maxLagMs` after they were published, reads go to the backend, and
 *   `hexfleet_read_index_local` says 0;
 * - it holds the drivers of its markets (`markets`: every area by default,
 *   or the areas of HEXFLEET_MARKETS) and follows only their positions on
 *   the bus; a query whose circle reaches outside them, and a driver it
 *   does not hold, are answered by the backend (reads source=backend).
 *
 *   backend ──scan──▶ DriverIndex ◀──positions (seq, status, vehicle)── every gateway
 *                          │
 *   nearby() ──local?──────┴──▶ microseconds        else ──▶ backend.nearby()
 */
export class ReadIndex implements NearbyReader {
  private readonly index: DriverIndex;
  private syncing = true;
  /** Why a resync was asked while one ran (it runs again once done), or undefined. */
  private resyncWanted: string | undefined;
  private closed = false;
  /** Worst publish → apply delay seen in the current and the previous second (ms). */
  private delayNow = 0;
  private delayBefore = 0;
  private windowStart = Date.now();
  private readonly unsubscribe: (() => void)[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly metrics: ReadIndexMetrics;
  /** The held markets; undefined while every area is held. */
  private readonly coverage: MarketCoverage | undefined;
  private readonly interests: AreaInterest[];
  /** Drivers seen leaving the markets during the running sync, with the seq they left at: an older scanned record must not bring them back. */
  private readonly left = new Map<string, number>();
  /** Resolves once the first bootstrap completed (tests, readiness). */
  readonly bootstrapped: Promise<void>;
  /** A backend that does not answer fails every retry (one a second): logged per outage, not per attempt. */
  private readonly syncFailures: FailureLog;

  constructor(
    private readonly store: DriverStore,
    bus: PositionBus,
    private readonly options: ReadIndexOptions,
    registry: Registry,
    private readonly log: Logger,
  ) {
    this.index = new DriverIndex(options.resolution);
    this.syncFailures = new FailureLog(log, 'read index sync', 'nearby reads go to the backend');
    this.coverage = options.markets === undefined ? undefined : new MarketCoverage(options.markets, options.areaResolution, options.maxRadiusM);
    this.metrics = new ReadIndexMetrics(registry, () => (this.servesLocally() ? 1 : 0), () => this.index.size);
    // Live positions first, then the scan: nothing published meanwhile is missed (apply is seq-guarded).
    this.unsubscribe.push(bus.subscribe((positions) => this.onPositions(positions)));
    this.unsubscribe.push(bus.onGap((area) => {
      if (area === undefined || !this.coverage || this.coverage.hasArea(area)) this.resync('gap');
    }));
    this.interests = (options.markets ?? [ALL_AREAS]).map((area) => bus.follow(area));
    this.sweepTimer = setInterval(() => {
      const { offlineMs, retentionMs } = this.options.timing;
      this.index.sweep(Date.now(), offlineMs, retentionMs);
    }, options.sweepIntervalMs);
    this.sweepTimer.unref();
    this.bootstrapped = Promise.all(this.interests.map((i) => i.ready)).then(() => this.sync('bootstrap'));
  }

  /** The areas whose drivers it holds; undefined: every area. */
  get markets(): readonly string[] | undefined {
    return this.coverage?.areas;
  }

  /** True while reads are answered here rather than by the backend. */
  servesLocally(): boolean {
    return !this.syncing && this.lagMs() <= this.options.maxLagMs;
  }

  /** The worst delay between a position's publication and its application here over the last second or two (ms). */
  lagMs(): number {
    this.roll(Date.now());
    return Math.max(this.delayNow, this.delayBefore);
  }

  /**
   * The local answer at once, or undefined when this read must go to the
   * backend (syncing, lagging, or outside the followed markets): the HTTP
   * route answers inside its request handler when it can, with no promise.
   */
  nearbyNow(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): NearbyDriver[] | undefined {
    if (!this.servesLocally() || (this.coverage && !this.coverage.covers(lat, lng, radiusM))) return undefined;
    this.metrics.reads.inc({ source: 'local' });
    return this.index.nearby(lat, lng, radiusM, options, now, this.options.timing.staleMs);
  }

  async nearby(lat: number, lng: number, radiusM: number, options: NearbyOptions, now: number): Promise<NearbyDriver[]> {
    const local = this.nearbyNow(lat, lng, radiusM, options, now);
    if (local) return local;
    this.metrics.reads.inc({ source: 'backend' });
    return this.store.nearby(lat, lng, radiusM, options, now);
  }

  /**
   * A driver's last-known record with its age, from the follower while it
   * serves locally and holds the driver; else (or for a driver it does not
   * know) from the backend, which may know one the follower has not heard of.
   */
  async get(driverId: string, now: number): Promise<DriverView | null> {
    const held = this.servesLocally() ? this.index.get(driverId) : undefined;
    if (held) {
      this.metrics.reads.inc({ source: 'local' });
      return viewOf(held, now, this.options.timing.staleMs);
    }
    this.metrics.reads.inc({ source: 'backend' });
    return this.store.get(driverId, now);
  }

  /** What the follower holds for a driver (tests). */
  peek(driverId: string): DriverRecord | undefined {
    return this.index.get(driverId);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
    for (const i of this.interests) i.release();
    clearInterval(this.sweepTimer);
    await this.bootstrapped.catch(() => {});
  }

  private onPositions(positions: readonly DriverPosition[]): void {
    const now = Date.now();
    for (const p of positions) {
      // A position without seq comes from a gateway that does not send it (a rolling deploy): the next resync brings it.
      if (p.seq === undefined) continue;
      if (this.coverage && !this.coverage.holdsPoint(p.lat, p.lng)) {
        this.leave(p.driverId, p.seq);
        continue;
      }
      this.index.apply({ driverId: p.driverId, seq: p.seq, lat: p.lat, lng: p.lng, ts: p.ts, status: p.status, vehicle: p.vehicle, spd: p.spd, hdg: p.hdg });
      if (p.publishedAt !== undefined) this.observeDelay(now, Math.max(0, now - p.publishedAt));
    }
  }

  /** A driver seen outside the markets (at `seq`) leaves the follower, unless what it holds is newer. */
  private leave(driverId: string, seq: number): void {
    const held = this.index.seqOf(driverId);
    if (held !== undefined && held <= seq) this.index.remove(driverId);
    if (this.syncing && (this.left.get(driverId) ?? -1) < seq) this.left.set(driverId, seq);
  }

  private observeDelay(now: number, ms: number): void {
    this.roll(now);
    if (ms > this.delayNow) this.delayNow = ms;
    this.metrics.delay.observe(ms / 1000);
  }

  private roll(now: number): void {
    if (now - this.windowStart < 1000) return;
    this.delayBefore = now - this.windowStart < 2000 ? this.delayNow : 0;
    this.delayNow = 0;
    this.windowStart = now;
  }

  private resync(reason: string): void {
    if (this.closed) return;
    if (this.syncing) {
      this.resyncWanted = reason; // once the running one is done: it may have started before what was missed
      return;
    }
    void this.sync(reason);
  }

  /** Scans the backend into the index until it succeeds (or the follower closes); reads go to the backend meanwhile. */
  private async sync(why: string): Promise<void> {
    let reason = why;
    this.syncing = true;
    this.metrics.resyncs.inc({ reason });
    const retryMs = this.options.retryMs ?? 1000;
    while (!this.closed) {
      const started = Date.now();
      try {
        let drivers = 0;
        await this.store.scan((page) => {
          for (const r of page) {
            if (this.coverage && !this.coverage.holdsCell(r.cell)) {
              this.leave(r.driverId, r.seq);
              continue;
            }
            if ((this.left.get(r.driverId) ?? -1) >= r.seq) continue;
            const applied = this.index.apply({
              driverId: r.driverId, seq: r.seq, lat: r.lat, lng: r.lng, ts: r.ts, status: r.status, vehicle: r.vehicle, spd: r.spd, hdg: r.hdg, acc: r.acc,
            });
            // Out of the backend's index (offline past offlineMs): out of this one too, unless a newer position came live.
            if (applied && !r.indexed) this.index.unindex(r.driverId);
          }
          drivers += page.length;
        }, this.coverage?.areas);
        this.syncFailures.succeeded({ reason });
        this.log.info({ reason, drivers, ms: Date.now() - started }, 'read index synced from the backend');
        if (this.resyncWanted !== undefined) {
          reason = this.resyncWanted;
          this.resyncWanted = undefined;
          this.metrics.resyncs.inc({ reason });
          continue;
        }
        this.syncing = false;
        this.left.clear();
        return;
      } catch (err) {
        this.syncFailures.failed(err, { reason });
        await new Promise((r) => setTimeout(r, retryMs).unref());
      }
    }
  }
}

/** The follower's metrics, on the gateway's registry. */
class ReadIndexMetrics {
  readonly delay: Histogram;
  readonly resyncs: Counter<'reason'>;
  readonly reads: Counter<'source'>;

  constructor(registry: Registry, local: () => number, drivers: () => number) {
    const registers = [registry];
    this.delay = new Histogram({
      name: 'hexfleet_read_index_delay_seconds',
      help: 'Time from a position stored and published by a gateway to its application in this gateway\'s read index (clocks of two gateways).',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.resyncs = new Counter({
      name: 'hexfleet_read_index_resyncs_total',
      help: 'Scans of the backend into the read index, by reason: bootstrap, or gap (positions missed).',
      labelNames: ['reason'],
      registers,
    });
    this.reads = new Counter({
      name: 'hexfleet_read_index_reads_total',
      help: 'Reads (nearby queries, tracked drivers\' last-known positions) by where they were answered: local (the read index) or backend (bootstrapping, resyncing, lagging past HEXFLEET_READ_INDEX_MAX_LAG_MS, or a driver it does not hold).',
      labelNames: ['source'],
      registers,
    });
    new Gauge({ name: 'hexfleet_read_index_local', help: '1 while nearby reads are answered by the read index, 0 while they go to the backend.', registers, collect() { this.set(local()); } });
    new Gauge({ name: 'hexfleet_read_index_drivers', help: 'Drivers held by the read index.', registers, collect() { this.set(drivers()); } });
  }
}
