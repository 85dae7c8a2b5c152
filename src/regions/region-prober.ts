import { BrokenCircuitError, circuitBreaker, type CircuitBreakerPolicy, ConsecutiveBreaker, handleAll } from 'cockatiel';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { RegionEntry, RegionLoad, RegionsAnswer } from '../protocol/regions-answer.js';

/** This gateway's own health and load, read when asked (see `RegionProber.answer`). */
export interface LocalRegionState {
  /** The store answers and the gateway is not shutting down. */
  ready(): Promise<boolean>;
  /** Open driver sockets now. */
  connectedDrivers(): Promise<number>;
  /** Pings stored since start (a counter: the rate is taken between two probe ticks). */
  pingsApplied(): Promise<number>;
}

export interface RegionProberOptions {
  /** This gateway's region. */
  region: string;
  /** Every region's public base URLs (HEXFLEET_REGION_ENDPOINTS), the own one included when listed. */
  endpoints: ReadonlyMap<string, readonly string[]>;
  intervalMs: number;
  timeoutMs: number;
  local: LocalRegionState;
}

/** Consecutive failed probes that open a region's breaker. */
const BREAKER_FAILURES = 3;
/** An open breaker lets the next probe through after this many intervals (a dead region is not asked every tick). */
const BREAKER_OPEN_INTERVALS = 3;
/** The own region's readiness is read at most this often: GET /v1/regions is public, and each read is a store round trip. */
const SELF_CACHE_MS = 1000;
/** The most of an answer's body read: a region list is a few hundred bytes. */
const MAX_BODY_CHARS = 64 * 1024;

/** What is known of another region, from its probes. */
interface Probed {
  name: string;
  endpoints: readonly string[];
  breaker: CircuitBreakerPolicy;
  /** When the last probe ended (0: none yet). */
  probedAt: number;
  ok: boolean;
  ready: boolean;
  lastGoodAt: number;
  rttMs?: number;
  load?: RegionLoad;
  error?: string;
}

/**
 * The gateway's view of the regions, for `GET /v1/regions` and readiness.
 *
 * One timer probes every other region every `intervalMs`, all of them in
 * parallel: `GET <endpoint>/v1/regions` on each of its endpoints in turn
 * until one answers within `timeoutMs`, and the answer's `self` entry (the
 * region's own gateway speaking of itself) gives its readiness and load. Each
 * region has its own circuit breaker (cockatiel): after 3 failed probes in a
 * row it is asked again only every 3 intervals. The own region is answered
 * from this gateway's state.
 *
 * Guarantee: nothing stale is shown as fresh. A region whose last probe failed
 * is unreachable and carries no load, only the age of its last good probe.
 */
export class RegionProber {
  private readonly others: Probed[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly aborter = new AbortController();
  /** Called when a region is found unreachable (onRegionLost). */
  private readonly lostListeners: ((region: string) => void)[] = [];
  private self: { at: number; ready: boolean } | undefined;
  private selfReading: Promise<boolean> | undefined;
  /** The pings counter at the last tick, for the rate. */
  private lastTick: { at: number; applied: number } | undefined;
  private pingsPerSec = 0;

  constructor(private readonly o: RegionProberOptions, registry: Registry, private readonly log: Logger) {
    for (const [name, endpoints] of o.endpoints) {
      if (name === o.region) continue;
      const breaker = circuitBreaker(handleAll, { halfOpenAfter: o.intervalMs * BREAKER_OPEN_INTERVALS, breaker: new ConsecutiveBreaker(BREAKER_FAILURES) });
      this.others.push({ name, endpoints, breaker, probedAt: 0, ok: false, ready: false, lastGoodAt: 0 });
    }
    const others = this.others;
    new Gauge({
      name: 'hexfleet_region_reachable', help: 'Whether the last probe of another region answered (1) or not (0).', labelNames: ['region'], registers: [registry],
      collect() {
        for (const p of others) this.set({ region: p.name }, p.ok ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hexfleet_region_last_good_probe_age_seconds', help: 'Age of the last successful probe of another region (absent until one succeeded).', labelNames: ['region'], registers: [registry],
      collect() {
        for (const p of others) if (p.lastGoodAt > 0) this.set({ region: p.name }, (Date.now() - p.lastGoodAt) / 1000);
      },
    });
  }

  /** Starts the probe timer (a first round at once). */
  start(): void {
    void this.tick();
  }

  /** Stops the timer and abandons probes in flight. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.aborter.abort();
  }

  /** Calls `listener` each time a region is found unreachable: its first failed probe after a good one (or none). */
  onRegionLost(listener: (region: string) => void): void {
    this.lostListeners.push(listener);
  }

  /** Reachability of every other region, by name, for readiness (empty without other regions). */
  reachable(): Record<string, boolean> {
    return Object.fromEntries(this.others.map((p) => [p.name, p.ok]));
  }

  /**
   * Whether `region` is known to be unreachable: probed, and its last probe
   * failed. A region not probed yet, or not among HEXFLEET_REGION_ENDPOINTS,
   * is not: ownership moves (src/regions/ownership-claimer.ts) need a failed
   * probe, never the absence of news.
   */
  isUnreachable(region: string): boolean {
    const p = this.others.find((o) => o.name === region);
    return p !== undefined && p.probedAt > 0 && !p.ok;
  }

  /** The body of GET /v1/regions. */
  async answer(): Promise<RegionsAnswer> {
    const now = Date.now();
    const [ready, connectedDrivers] = await Promise.all([this.selfReady(now), this.o.local.connectedDrivers()]);
    const selfEntry: RegionEntry = {
      name: this.o.region,
      endpoints: [...(this.o.endpoints.get(this.o.region) ?? [])],
      self: true,
      reachable: true,
      ready,
      probeAgeMs: Math.max(0, Date.now() - (this.self?.at ?? now)),
      lastGoodAgeMs: 0,
      load: { connectedDrivers, pingsPerSec: this.pingsPerSec },
    };
    const at = Date.now();
    return { region: this.o.region, regions: [selfEntry, ...this.others.map((p) => entryOf(p, at))] };
  }

  private selfReady(now: number): Promise<boolean> {
    if (this.self && now - this.self.at < SELF_CACHE_MS) return Promise.resolve(this.self.ready);
    // Concurrent requests share one read.
    this.selfReading ??= this.o.local.ready()
      .catch(() => false)
      .then((ready) => {
        this.self = { at: Date.now(), ready };
        this.selfReading = undefined;
        return ready;
      });
    return this.selfReading;
  }

  private async tick(): Promise<void> {
    const applied = await this.o.local.pingsApplied();
    const now = Date.now();
    const last = this.lastTick;
    if (last && now > last.at) this.pingsPerSec = Math.round(((applied - last.applied) * 1000) / (now - last.at));
    this.lastTick = { at: now, applied };
    await Promise.all(this.others.map((p) => this.probe(p)));
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.o.intervalMs);
  }

  private async probe(p: Probed): Promise<void> {
    const started = performance.now();
    let lost = false;
    try {
      const self = await p.breaker.execute(() => this.ask(p));
      p.ok = true;
      p.ready = self.ready;
      p.load = self.load;
      p.rttMs = Math.round((performance.now() - started) * 10) / 10;
      p.lastGoodAt = Date.now();
      if (p.error !== undefined) this.log.info({ region: p.name }, 'region reachable again');
      p.error = undefined;
    } catch (err) {
      if (this.stopped) return;
      const wasOk = p.ok || p.probedAt === 0;
      p.ok = false;
      p.ready = false;
      p.load = undefined;
      p.error = err instanceof BrokenCircuitError ? `not probed: ${BREAKER_FAILURES} probes in a row failed (breaker open)` : (err as Error).message;
      // Once per loss, not once per tick.
      if (wasOk) this.log.warn({ region: p.name, err: p.error }, 'region unreachable');
      // After probedAt is set: listeners see isUnreachable(region) true.
      if (wasOk) lost = true;
    } finally {
      p.probedAt = Date.now();
    }
    if (lost) for (const listener of this.lostListeners) listener(p.name);
  }

  /** One probe: the region's endpoints in turn until one answers with its own entry. */
  private async ask(p: Probed): Promise<{ ready: boolean; load?: RegionLoad }> {
    const failures: string[] = [];
    for (const base of p.endpoints) {
      try {
        const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.o.timeoutMs)]);
        const res = await fetch(`${base}/v1/regions`, { signal, headers: { accept: 'application/json' } });
        const text = (await res.text()).slice(0, MAX_BODY_CHARS);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        const body = JSON.parse(text) as Partial<RegionsAnswer>;
        const self = Array.isArray(body.regions) ? body.regions.find((r) => r.self) : undefined;
        if (!self || self.name !== p.name) throw new Error(`it answered as region ${String(self?.name ?? body.region)}, not ${p.name}`);
        return { ready: self.ready === true, ...(self.load ? { load: self.load } : {}) };
      } catch (err) {
        failures.push(`${base}: ${err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : (err as Error).message}`);
      }
    }
    throw new Error(failures.join('; '));
  }
}

function entryOf(p: Probed, now: number): RegionEntry {
  const e: RegionEntry = {
    name: p.name,
    endpoints: [...p.endpoints],
    self: false,
    reachable: p.ok,
    ready: p.ok && p.ready,
    probeAgeMs: p.probedAt === 0 ? 0 : now - p.probedAt,
  };
  if (p.lastGoodAt > 0) e.lastGoodAgeMs = now - p.lastGoodAt;
  if (p.ok && p.rttMs !== undefined) e.rttMs = p.rttMs;
  if (p.ok && p.load) e.load = p.load;
  if (!p.ok) e.error = p.probedAt === 0 ? 'not probed yet' : p.error ?? 'unreachable';
  return e;
}
