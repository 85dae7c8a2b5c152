import {
  circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleWhen, isBrokenCircuitError,
  retry, timeout, TimeoutStrategy, wrap, type CircuitBreakerPolicy, type GeneratorFn,
  type IDefaultPolicyContext, type IPolicy,
} from 'cockatiel';
import { isVehicleType, VEHICLE_TYPES, type VehicleType } from '../domain/vehicle.js';
import type { EtaOrigin, EtaProvider, EtaResult, EtaSource, GeoPoint } from './eta-provider.js';
import { GreatCircleEtaProvider } from './great-circle-eta-provider.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What became of one attempt to call the service (`breaker_open`: refused locally, nothing sent). */
export type OsrmAttemptOutcome = 'ok' | 'timeout' | 'network' | 'http_429' | 'http_5xx' | 'http_4xx' | 'bad_response' | 'breaker_open';

/**
 * Callbacks for metrics and logs; every one is optional, is called
 * synchronously, and may not throw (an exception from a hook is swallowed so
 * it can never break the never-rejects guarantee).
 */
export interface OsrmEtaHooks {
  /** Once per `etas()` call and source present: how many entries that source filled. */
  onSource?(source: EtaSource, entries: number): void;
  /** At construction (`closed`) and on every breaker transition. `half-open` is entered lazily, by the first call after `halfOpenAfterMs`. */
  onBreakerState?(state: BreakerState): void;
  /** Once per HTTP attempt (and once per call refused by the open breaker). */
  onAttempt?(outcome: OsrmAttemptOutcome): void;
  /** Before each retry: its number (1 = first retry) and the jittered delay in ms. */
  onRetry?(attempt: number, delayMs: number): void;
  /** The error that sent a request to the fallback (after retries), for logs. */
  onError?(error: unknown): void;
}

/**
 * Options of {@link OsrmEtaProvider}. Only `baseUrl` is required. With the
 * defaults a call that fails every attempt falls back after at most
 * 3 × 250 ms + 25 + 50 ms of backoff ≈ 825 ms; once the breaker is open calls
 * fall back at once.
 */
export interface OsrmEtaOptions {
  /** The service root, e.g. `http://osrm:5000` (a path prefix is kept). */
  baseUrl: string;
  /**
   * OSRM profile per vehicle type. Default walk → `foot`, bike → `bike`,
   * scooter → `car` (mopeds ride the car network), car → `car`. osrm-routed
   * serves one data set and ignores the profile; several profiles need one
   * instance each behind a proxy that routes on the path.
   */
  profiles?: Partial<Record<VehicleType, string>>;
  /** Vehicle assumed for an origin without one (picks its profile). Default `bike`, as the great-circle estimate. */
  unknownVehicle?: VehicleType;
  /** Per-attempt timeout, ms. Default 250: a 100×1 table answers in a few ms; the rest is for GC and network hiccups. */
  timeoutMs?: number;
  /** Retries after the first attempt, for transient failures only (network, timeout, 5xx, 429). Default 2. */
  retries?: number;
  /** Cap of the first retry delay, ms; doubles per retry, full jitter (delay = random × cap). Default 25. */
  backoffInitialMs?: number;
  /** Largest retry delay cap, ms. Default 250. */
  backoffMaxMs?: number;
  /** Consecutive failed attempts (service faults: transient or a malformed answer) that open the breaker. Default 5. */
  breakerThreshold?: number;
  /** How long the breaker stays open before letting one probe through, ms. Default 10 000. */
  halfOpenAfterMs?: number;
  /** Most coordinates per request (sources + 1 destination). Default 100, osrm-routed's default `--max-table-size`. */
  maxCoordinates?: number;
  /** Seconds added to every routed ETA, as the great-circle provider adds its own. Default 0. */
  pickupOverheadS?: number;
  /** Answers entries the service could not. Must never reject. Default: a `GreatCircleEtaProvider` with defaults. */
  fallback?: EtaProvider;
  hooks?: OsrmEtaHooks;
  /** Randomness of the jitter, [0, 1). Default `Math.random` (tests pin it). */
  random?: () => number;
}

/** A failed attempt, classified; never escapes `etas()`. */
export class RoutingServiceError extends Error {
  readonly kind: 'network' | 'http_429' | 'http_5xx' | 'http_4xx' | 'bad_response';
  readonly status: number | undefined;
  constructor(kind: RoutingServiceError['kind'], message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = 'RoutingServiceError';
    this.kind = kind;
    this.status = options?.status;
  }
}

/**
 * A per-attempt timeout. Not cockatiel's `isTaskCancelledError`: in 3.2.1 it
 * tests for the `isBulkheadRejectedError` marker, so it never matches.
 */
function isTimeout(err: Error): boolean {
  return (err as { isTaskCancelledError?: unknown }).isTaskCancelledError === true;
}

/** Worth another attempt: the service may answer next time. */
function isTransient(err: Error): boolean {
  if (isTimeout(err)) return true;
  return err instanceof RoutingServiceError && (err.kind === 'network' || err.kind === 'http_5xx' || err.kind === 'http_429');
}

/**
 * Counts against the service's health. A 4xx is about one request (OSRM
 * answers 400 NoSegment when one coordinate cannot snap), so it neither
 * retries nor trips the breaker.
 */
function isServiceFault(err: Error): boolean {
  return isTransient(err) || (err instanceof RoutingServiceError && err.kind === 'bad_response');
}

/** Full jitter (delay uniform in [0, cap), cap = initial × exponent^attempt, at most maxDelay), with injectable randomness. */
function fullJitter(random: () => number): GeneratorFn<number> {
  return (attempt = 0, o) => [Math.floor(random() * Math.min(o.maxDelay, o.initialDelay * o.exponent ** attempt)), attempt + 1];
}

const BREAKER_STATE: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half-open', [CircuitState.Isolated]: 'open',
};
const DEFAULT_PROFILES: Readonly<Record<VehicleType, string>> = { walk: 'foot', bike: 'bike', scooter: 'car', car: 'car' };
const PROFILE_NAME = /^[A-Za-z0-9_.-]+$/;

function intOption(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min} (got ${String(value)})`);
  return value;
}

/**
 * ETAs from an OSRM-compatible `/table/v1` service, one request per profile
 * and per `maxCoordinates - 1` origins, all in parallel:
 *
 * ```
 * GET {baseUrl}/table/v1/{profile}/{dest lng,lat};{o0 lng,lat};{o1 lng,lat}…
 *     ?sources=1;2;…&destinations=0&annotations=duration,distance
 * → { code: "Ok", durations: [[s0],[s1],…], distances: [[m0],[m1],…] }
 * ```
 *
 * Each request runs through retry ∘ circuit breaker ∘ timeout (outermost
 * first): every attempt has its own timeout and counts towards the breaker,
 * and an open breaker ends the retries at once. Whatever fails — a request,
 * or a single pair the service reports unreachable (`null`) — is answered by
 * the fallback and flagged in `fallback`; `etas()` never rejects for it.
 */
export class OsrmEtaProvider implements EtaProvider {
  readonly name = 'osrm';
  private readonly base: string;
  private readonly profiles: Record<VehicleType, string>;
  private readonly unknownVehicle: VehicleType;
  private readonly maxSources: number;
  private readonly pickupOverheadS: number;
  private readonly fallbackProvider: EtaProvider;
  private readonly hooks: OsrmEtaHooks;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy<IDefaultPolicyContext>;

  constructor(options: OsrmEtaOptions) {
    const o = options;
    let url: URL;
    try {
      url = new URL(o.baseUrl);
    } catch {
      throw new TypeError(`baseUrl must be an http(s) URL (got ${String(o.baseUrl)})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`baseUrl must be an http(s) URL (got ${o.baseUrl})`);
    this.base = url.href.replace(/\/+$/, '');
    this.unknownVehicle = o.unknownVehicle ?? 'bike';
    if (!isVehicleType(this.unknownVehicle)) throw new TypeError(`unknownVehicle must be one of ${VEHICLE_TYPES.join(', ')} (got ${String(o.unknownVehicle)})`);
    this.profiles = { ...DEFAULT_PROFILES };
    for (const [key, profile] of Object.entries(o.profiles ?? {})) {
      if (!isVehicleType(key)) throw new TypeError(`profiles.${key} is not a vehicle type (${VEHICLE_TYPES.join(', ')})`);
      if (typeof profile !== 'string' || !PROFILE_NAME.test(profile)) throw new TypeError(`profiles.${key} must be a profile name of letters, digits, _ . - (got ${String(profile)})`);
      this.profiles[key] = profile;
    }
    const timeoutMs = intOption('timeoutMs', o.timeoutMs ?? 250, 1);
    const retries = intOption('retries', o.retries ?? 2, 0);
    const initialDelay = intOption('backoffInitialMs', o.backoffInitialMs ?? 25, 0);
    const maxDelay = intOption('backoffMaxMs', o.backoffMaxMs ?? 250, initialDelay);
    const threshold = intOption('breakerThreshold', o.breakerThreshold ?? 5, 1);
    const halfOpenAfter = intOption('halfOpenAfterMs', o.halfOpenAfterMs ?? 10_000, 1);
    this.maxSources = intOption('maxCoordinates', o.maxCoordinates ?? 100, 2) - 1;
    this.pickupOverheadS = o.pickupOverheadS ?? 0;
    if (typeof this.pickupOverheadS !== 'number' || !Number.isFinite(this.pickupOverheadS) || this.pickupOverheadS < 0) {
      throw new RangeError(`pickupOverheadS must be a finite number >= 0 (got ${String(o.pickupOverheadS)})`);
    }
    this.fallbackProvider = o.fallback ?? new GreatCircleEtaProvider({ unknownVehicle: this.unknownVehicle });
    this.hooks = o.hooks ?? {};

    const retryPolicy = retry(handleWhen(isTransient), {
      maxAttempts: retries,
      backoff: new ExponentialBackoff({ generator: fullJitter(o.random ?? Math.random), initialDelay, maxDelay, exponent: 2 }),
    });
    this.breaker = circuitBreaker(handleWhen(isServiceFault), { halfOpenAfter, breaker: new ConsecutiveBreaker(threshold) });
    const attemptTimeout = timeout(timeoutMs, TimeoutStrategy.Aggressive);
    retryPolicy.onRetry(({ attempt, delay }) => this.emit('onRetry', attempt, delay));
    this.breaker.onStateChange((state) => this.emit('onBreakerState', BREAKER_STATE[state]));
    attemptTimeout.onTimeout(() => this.emit('onAttempt', 'timeout'));
    this.policy = wrap(retryPolicy, this.breaker, attemptTimeout);
    this.emit('onBreakerState', 'closed');
  }

  /** The breaker's state now (`open` stays reported until a call arrives after `halfOpenAfterMs`). */
  get breakerState(): BreakerState {
    return BREAKER_STATE[this.breaker.state];
  }

  async etas(origins: readonly EtaOrigin[], destination: GeoPoint): Promise<EtaResult> {
    const n = origins.length;
    const etaS = new Float64Array(n);
    const distance = new Float64Array(n);
    const fallback = new Uint8Array(n);
    if (n === 0) return { etaS, distanceM: distance, source: 'provider', fallback };

    await Promise.all(this.plan(origins).map(async ({ profile, indices }) => {
      try {
        const table = await this.policy.execute(({ signal }) => this.request(profile, indices.map((i) => origins[i]!), destination, signal));
        indices.forEach((idx, j) => {
          const s = table.durations[j];
          const m = table.distances[j];
          if (s == null || m == null) fallback[idx] = 1;
          else { etaS[idx] = s + this.pickupOverheadS; distance[idx] = m; }
        });
      } catch (err) {
        if (isBrokenCircuitError(err)) this.emit('onAttempt', 'breaker_open');
        this.emit('onError', err);
        for (const idx of indices) fallback[idx] = 1;
      }
    }));

    const missing: number[] = [];
    for (let i = 0; i < n; i++) if (fallback[i] === 1) missing.push(i);
    if (missing.length > 0) {
      const est = await this.fallbackProvider.etas(missing.map((i) => origins[i]!), destination);
      missing.forEach((idx, j) => { etaS[idx] = est.etaS[j]!; distance[idx] = est.distanceM[j]!; });
      this.emit('onSource', 'fallback', missing.length);
    }
    if (missing.length < n) this.emit('onSource', 'provider', n - missing.length);
    return { etaS, distanceM: distance, source: missing.length > 0 ? 'fallback' : 'provider', fallback };
  }

  /** Origin indices grouped by profile, in input order, split to fit `maxCoordinates`. */
  private plan(origins: readonly EtaOrigin[]): { profile: string; indices: number[] }[] {
    const byProfile = new Map<string, number[]>();
    origins.forEach((o, i) => {
      const vehicle = o.vehicle === undefined || o.vehicle === 'unknown' ? this.unknownVehicle : o.vehicle;
      const profile = this.profiles[vehicle];
      const list = byProfile.get(profile);
      if (list) list.push(i);
      else byProfile.set(profile, [i]);
    });
    const batches: { profile: string; indices: number[] }[] = [];
    for (const [profile, all] of byProfile) {
      for (let k = 0; k < all.length; k += this.maxSources) batches.push({ profile, indices: all.slice(k, k + this.maxSources) });
    }
    return batches;
  }

  /** One attempt. The destination is coordinate 0, origin j is coordinate j + 1. */
  private async request(profile: string, origins: readonly EtaOrigin[], destination: GeoPoint, signal: AbortSignal): Promise<Table> {
    // 6 decimals is ~11 cm, finer than any snapping to a road; it keeps the URL short.
    const coords = [destination, ...origins].map((p) => `${p.lng.toFixed(6)},${p.lat.toFixed(6)}`).join(';');
    const sources = origins.map((_, j) => j + 1).join(';');
    const url = `${this.base}/table/v1/${profile}/${coords}?sources=${sources}&destinations=0&annotations=duration,distance`;
    try {
      const res = await fetch(url, { signal, headers: { accept: 'application/json' } });
      if (!res.ok) {
        const text = (await res.text()).slice(0, 200);
        const kind = res.status === 429 ? 'http_429' : res.status >= 500 ? 'http_5xx' : 'http_4xx';
        throw new RoutingServiceError(kind, `routing service answered ${res.status}: ${text}`, { status: res.status });
      }
      let body: unknown;
      try {
        body = await res.json();
      } catch (err) {
        if (signal.aborted) throw err;
        throw new RoutingServiceError('bad_response', 'routing service answered 200 with a body that is not JSON', { cause: err });
      }
      const table = parseTable(body, origins.length);
      this.emit('onAttempt', 'ok');
      return table;
    } catch (err) {
      // An aborted attempt was already reported as a timeout by the policy.
      if (signal.aborted) throw err;
      if (err instanceof RoutingServiceError) {
        this.emit('onAttempt', err.kind);
        throw err;
      }
      this.emit('onAttempt', 'network');
      throw new RoutingServiceError('network', `routing service unreachable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  private emit<K extends keyof OsrmEtaHooks>(hook: K, ...args: Parameters<NonNullable<OsrmEtaHooks[K]>>): void {
    const fn = this.hooks[hook] as ((...a: unknown[]) => void) | undefined;
    if (fn === undefined) return;
    try {
      fn.apply(this.hooks, args);
    } catch {
      // A metrics hook must never turn an answer into a failure.
    }
  }
}

/** One column of durations (s) and distances (m); `null` = no route for that pair. */
interface Table {
  durations: (number | null)[];
  distances: (number | null)[];
}

function parseTable(body: unknown, count: number): Table {
  const b = body as { code?: unknown; message?: unknown; durations?: unknown; distances?: unknown } | null;
  if (typeof b !== 'object' || b === null || b.code !== 'Ok') {
    throw new RoutingServiceError('bad_response', `routing service answered code ${String(b?.code)}: ${String(b?.message ?? '')}`);
  }
  return { durations: column(b.durations, count, 'durations'), distances: column(b.distances, count, 'distances') };
}

function column(rows: unknown, count: number, name: string): (number | null)[] {
  if (!Array.isArray(rows) || rows.length !== count) {
    throw new RoutingServiceError('bad_response', `routing service ${name} is not ${count} rows`);
  }
  return rows.map((row: unknown) => {
    const v: unknown = Array.isArray(row) && row.length === 1 ? row[0] : undefined;
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RoutingServiceError('bad_response', `routing service ${name} has a row that is not [seconds|metres|null]`);
    return v;
  });
}
