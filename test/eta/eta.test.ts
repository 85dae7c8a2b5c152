import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EtaOrigin, EtaResult, GeoPoint } from '../../src/eta/eta-provider.js';
import { GreatCircleEtaProvider, type GreatCircleEtaOptions } from '../../src/eta/great-circle-eta-provider.js';
import {
  type BreakerState, type OsrmAttemptOutcome, OsrmEtaProvider, type OsrmEtaOptions,
} from '../../src/eta/osrm-eta-provider.js';
import type { StoredVehicle } from '../../src/domain/vehicle.js';
import { distanceM } from '../../src/geo/geodesy.js';
import { waitFor } from '../support/wait-for.js';

/** 0.01° of latitude on hexfleet's sphere: 2π × 6 371 008.8 m / 36 000. */
const CENTI_DEGREE_M = 1111.9508023353292;

describe('GreatCircleEtaProvider', () => {
  const origin = { lat: 0, lng: 0 };
  const pickup = { lat: 0.01, lng: 0 };

  // distance × detour 1.3 ÷ speed, worked out by hand from the default speeds.
  it.each<[StoredVehicle | undefined, number]>([
    ['walk', 1032.5257],
    ['bike', 321.2302],
    ['scooter', 206.5051],
    ['car', 170.0631],
    [undefined, 321.2302],
    ['unknown', 321.2302],
  ])('default estimate for vehicle %s is %f s', async (vehicle, expectedS) => {
    const r = await new GreatCircleEtaProvider().etas([{ ...origin, vehicle }], pickup);
    expect(r.etaS[0]).toBeCloseTo(expectedS, 3);
    expect(r.distanceM[0]).toBeCloseTo(CENTI_DEGREE_M * 1.3, 6);
    expect(r.source).toBe('provider');
    expect(Array.from(r.fallback)).toEqual([0]);
  });

  it.each<[string, GreatCircleEtaOptions, StoredVehicle | undefined, number]>([
    ['no detour, own car speed', { detourFactor: 1, speedsMps: { car: 10 } }, 'car', CENTI_DEGREE_M / 10],
    ['other speeds keep their defaults', { speedsMps: { car: 10 } }, 'walk', (CENTI_DEGREE_M * 1.3) / 1.4],
    ['pickup overhead is added', { pickupOverheadS: 120 }, 'bike', (CENTI_DEGREE_M * 1.3) / 4.5 + 120],
    ['unknown vehicle configurable', { unknownVehicle: 'car' }, undefined, (CENTI_DEGREE_M * 1.3) / 8.5],
    ['detour 2', { detourFactor: 2 }, 'scooter', (CENTI_DEGREE_M * 2) / 7],
  ])('%s', async (_, options, vehicle, expectedS) => {
    const r = await new GreatCircleEtaProvider(options).etas([{ ...origin, vehicle }], pickup);
    expect(r.etaS[0]).toBeCloseTo(expectedS, 6);
  });

  it('answers one entry per origin, in input order, in seconds and metres', async () => {
    const dest = { lat: 52.52, lng: 13.405 };
    const origins: EtaOrigin[] = [
      { lat: 52.53, lng: 13.41, vehicle: 'car' },
      { lat: 52.52, lng: 13.405, vehicle: 'walk' },
      { lat: 52.5, lng: 13.38, vehicle: 'bike' },
    ];
    const p = new GreatCircleEtaProvider({ pickupOverheadS: 30 });
    const r = await p.etas(origins, dest);
    expect(r.etaS).toBeInstanceOf(Float64Array);
    expect(r.etaS.length).toBe(3);
    origins.forEach((o, i) => {
      const road = distanceM(o.lat, o.lng, dest.lat, dest.lng) * 1.3;
      expect(r.distanceM[i]).toBeCloseTo(road, 6);
      expect(r.etaS[i]).toBeCloseTo(road / { car: 8.5, walk: 1.4, bike: 4.5 }[o.vehicle as 'car' | 'walk' | 'bike'] + 30, 6);
    });
    expect(r.etaS[1]).toBe(30); // same point: only the overhead
    expect(p.estimate(origins, dest).etaS).toEqual(r.etaS);
    const empty = await p.etas([], dest);
    expect([empty.etaS.length, empty.distanceM.length, empty.fallback.length]).toEqual([0, 0, 0]);
  });

  it.each<[GreatCircleEtaOptions, string]>([
    [{ detourFactor: 0.9 }, 'detourFactor must be a finite number >= 1 (got 0.9)'],
    [{ detourFactor: Number.NaN }, 'detourFactor must be a finite number >= 1 (got NaN)'],
    [{ pickupOverheadS: -1 }, 'pickupOverheadS must be a finite number >= 0 (got -1)'],
    [{ speedsMps: { bike: 0 } }, 'speedsMps.bike must be a finite number > 0 m/s (got 0)'],
    [{ speedsMps: { boat: 3 } as never }, 'speedsMps.boat is not a vehicle type (walk, bike, scooter, car)'],
    [{ unknownVehicle: 'boat' as never }, 'unknownVehicle must be one of walk, bike, scooter, car (got boat)'],
  ])('rejects %j with a message naming the option', (options, message) => {
    expect(() => new GreatCircleEtaProvider(options)).toThrow(message);
  });
});

// ---------------------------------------------------------------------------
// A real HTTP server playing an OSRM /table/v1 service.

type Mode = 'ok' | 'hang' | 'fail500' | 'fail429' | 'fail400' | 'reset' | 'notOk' | 'garbage';

/** Routed speed per profile in the fake answers (m/s), so each profile's answer is recognisable. */
const FAKE_SPEED: Record<string, number> = { car: 10, bike: 4, foot: 1.5 };
/** Road metres = great-circle × this in the fake answers (differs from 1.3 so routed and estimated differ). */
const FAKE_DETOUR = 1.2;

class FakeOsrm {
  mode: Mode = 'ok';
  /** Coordinates (by index in the request) answered with null: no route. */
  nullCoords = new Set<number>();
  readonly urls: string[] = [];
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<FakeOsrm> {
    const server = createServer();
    const fake = new FakeOsrm(server);
    server.on('request', (req, res) => fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.mode = 'ok';
    this.nullCoords.clear();
    this.urls.length = 0;
    // Only the sockets of hanging requests are closed: closing idle keep-alive
    // sockets too would make the client's next request fail on a dead socket.
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.urls.push(req.url ?? '');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    switch (this.mode) {
      case 'hang': this.hanging.add(res); return; // never answers
      case 'reset': req.socket.destroy(); return;
      case 'fail500': return json(500, { error: 'boom' });
      case 'fail429': return json(429, { error: 'slow down' });
      case 'fail400': return json(400, { code: 'NoSegment', message: 'Could not find a matching segment for any coordinate.' });
      case 'notOk': return json(200, { code: 'NoTable', message: 'No table found' });
      case 'garbage': res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy error</html>'); return;
      case 'ok': return json(200, this.table(req.url ?? ''));
    }
  }

  /** Answers like OSRM: durations[i][j] from sources[i] to destinations[j], from the coordinates in the URL. */
  private table(url: string): unknown {
    const m = /\/table\/v1\/([^/]+)\/([^?]+)\?(.*)$/.exec(url);
    if (!m) throw new Error(`unexpected URL ${url}`);
    const coords = m[2]!.split(';').map((c) => c.split(',').map(Number) as [number, number]); // [lng, lat]
    const query = new URLSearchParams(m[3]!);
    const indices = (name: string) => query.get(name)!.split(';').map(Number);
    const speed = FAKE_SPEED[m[1]!]!;
    const cell = (s: number, d: number, f: (metres: number) => number): number | null => {
      if (this.nullCoords.has(s)) return null;
      const [sLng, sLat] = coords[s]!;
      const [dLng, dLat] = coords[d]!;
      return f(distanceM(sLat, sLng, dLat, dLng) * FAKE_DETOUR);
    };
    const sources = indices('sources');
    const destinations = indices('destinations');
    return {
      code: 'Ok',
      durations: sources.map((s) => destinations.map((d) => cell(s, d, (road) => road / speed))),
      distances: sources.map((s) => destinations.map((d) => cell(s, d, (road) => road))),
      sources: sources.map((s) => ({ location: coords[s], name: '' })),
      destinations: destinations.map((d) => ({ location: coords[d], name: '' })),
    };
  }
}

const PICKUP: GeoPoint = { lat: 52.52, lng: 13.405 };
const DRIVERS: EtaOrigin[] = [
  { lat: 52.53, lng: 13.41, vehicle: 'car' },
  { lat: 52.51, lng: 13.39, vehicle: 'car' },
  { lat: 52.525, lng: 13.42, vehicle: 'car' },
];

/** What the fake routes for an origin (its profile's speed), and what the great-circle fallback estimates. */
function routedS(o: EtaOrigin, profileSpeed: number): number {
  return (distanceM(o.lat, o.lng, PICKUP.lat, PICKUP.lng) * FAKE_DETOUR) / profileSpeed;
}
const estimate = (origins: EtaOrigin[]): EtaResult => new GreatCircleEtaProvider().estimate(origins, PICKUP);

/** Everything the hooks saw. */
function recorder() {
  const seen = {
    states: [] as BreakerState[],
    attempts: [] as OsrmAttemptOutcome[],
    retries: [] as { attempt: number; delayMs: number }[],
    sources: [] as [string, number][],
    errors: [] as unknown[],
  };
  const hooks: OsrmEtaOptions['hooks'] = {
    onBreakerState: (s) => seen.states.push(s),
    onAttempt: (o) => seen.attempts.push(o),
    onRetry: (attempt, delayMs) => seen.retries.push({ attempt, delayMs }),
    onSource: (source, entries) => seen.sources.push([source, entries]),
    onError: (e) => seen.errors.push(e),
  };
  return { seen, hooks };
}

describe('OsrmEtaProvider against a local HTTP server', () => {
  let osrm: FakeOsrm;
  beforeAll(async () => {
    osrm = await FakeOsrm.start();
  });
  afterEach(() => osrm.reset());
  afterAll(async () => {
    await osrm.stop();
  });

  /** A provider on the fake with small timeouts; breaker far away unless a test sets it. */
  const provider = (options: Partial<OsrmEtaOptions> = {}) =>
    new OsrmEtaProvider({ baseUrl: osrm.baseUrl, timeoutMs: 2_000, backoffInitialMs: 5, backoffMaxMs: 20, breakerThreshold: 100, ...options });

  it('asks /table/v1 with lng,lat coordinates, the destination first, and maps the column back in order', async () => {
    const { seen, hooks } = recorder();
    const p = provider({ hooks, pickupOverheadS: 15 });
    const r = await p.etas(DRIVERS, PICKUP);
    expect(osrm.urls).toEqual([
      '/table/v1/car/13.405000,52.520000;13.410000,52.530000;13.390000,52.510000;13.420000,52.525000'
        + '?sources=1;2;3&destinations=0&annotations=duration,distance',
    ]);
    expect(r.source).toBe('provider');
    expect(Array.from(r.fallback)).toEqual([0, 0, 0]);
    DRIVERS.forEach((o, i) => {
      expect(r.etaS[i]).toBeCloseTo(routedS(o, FAKE_SPEED.car!) + 15, 6);
      expect(r.distanceM[i]).toBeCloseTo(distanceM(o.lat, o.lng, PICKUP.lat, PICKUP.lng) * FAKE_DETOUR, 6);
    });
    expect(seen.attempts).toEqual(['ok']);
    expect(seen.sources).toEqual([['provider', 3]]);
    expect(seen.states).toEqual(['closed']);
    expect(p.breakerState).toBe('closed');
  });

  it('keeps a path prefix of baseUrl', async () => {
    await provider({ baseUrl: `${osrm.baseUrl}/osrm/` }).etas(DRIVERS.slice(0, 1), PICKUP);
    expect(osrm.urls[0]).toMatch(/^\/osrm\/table\/v1\/car\/13\.405000,52\.520000;13\.410000,52\.530000\?sources=1&/);
  });

  it('asks once per profile and puts every answer back at its origin', async () => {
    const vehicles: (StoredVehicle | undefined)[] = ['car', 'bike', 'walk', undefined, 'scooter', 'unknown'];
    const origins = vehicles.map((vehicle, i) => ({ lat: 52.5 + i * 0.004, lng: 13.38 + i * 0.006, vehicle }));
    const r = await provider().etas(origins, PICKUP);
    const profiles = osrm.urls.map((u) => /\/table\/v1\/([^/]+)\//.exec(u)![1]).sort();
    expect(profiles).toEqual(['bike', 'car', 'foot']);
    const expectedProfile = ['car', 'bike', 'foot', 'bike', 'car', 'bike'];
    origins.forEach((o, i) => expect(r.etaS[i]).toBeCloseTo(routedS(o, FAKE_SPEED[expectedProfile[i]!]!), 6));
    expect(r.source).toBe('provider');
  });

  it('splits a large column into requests of at most maxCoordinates', async () => {
    const origins = Array.from({ length: 5 }, (_, i) => ({ lat: 52.5 + i * 0.003, lng: 13.4, vehicle: 'car' as const }));
    const r = await provider({ maxCoordinates: 3 }).etas(origins, PICKUP);
    expect(osrm.urls.map((u) => /sources=([^&]*)/.exec(u)![1]).sort()).toEqual(['1', '1;2', '1;2']);
    origins.forEach((o, i) => expect(r.etaS[i]).toBeCloseTo(routedS(o, FAKE_SPEED.car!), 6));
  });

  it('makes no request for no origins', async () => {
    const r = await provider().etas([], PICKUP);
    expect([r.etaS.length, r.source, osrm.urls.length]).toEqual([0, 'provider', 0]);
  });

  it('answers an unreachable pair (null) from the fallback and flags that entry only', async () => {
    const { seen, hooks } = recorder();
    osrm.nullCoords.add(2); // the second origin (coordinate 0 is the destination)
    const r = await provider({ hooks }).etas(DRIVERS, PICKUP);
    expect(osrm.urls.length).toBe(1);
    expect(r.source).toBe('fallback');
    expect(Array.from(r.fallback)).toEqual([0, 1, 0]);
    const est = estimate(DRIVERS);
    expect(r.etaS[1]).toBe(est.etaS[1]);
    expect(r.distanceM[1]).toBe(est.distanceM[1]);
    expect(r.etaS[0]).toBeCloseTo(routedS(DRIVERS[0]!, FAKE_SPEED.car!), 6);
    expect(seen.sources).toEqual([['fallback', 1], ['provider', 2]]);
  });

  it('times out a request that hangs, retries it, then falls back (and does not hang)', async () => {
    const { seen, hooks } = recorder();
    osrm.mode = 'hang';
    const started = Date.now();
    const r = await provider({ hooks, timeoutMs: 60, retries: 2 }).etas(DRIVERS, PICKUP);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(seen.attempts).toEqual(['timeout', 'timeout', 'timeout']);
    await waitFor(() => osrm.urls.length === 3, { what: 'three attempts at the server' });
    expect(seen.retries.map((x) => x.attempt)).toEqual([1, 2]);
    expect(r.source).toBe('fallback');
    expect(Array.from(r.fallback)).toEqual([1, 1, 1]);
    expect(r.etaS).toEqual(estimate(DRIVERS).etaS);
    expect(seen.sources).toEqual([['fallback', 3]]);
    expect(seen.errors).toHaveLength(1);
  });

  it('retries a 500 with exponential backoff and full jitter, then falls back', async () => {
    const { seen, hooks } = recorder();
    osrm.mode = 'fail500';
    // random pinned at 0.5: delay = 0.5 × min(max, initial × 2^n) → 10, 20, 30 (capped at 60), 30.
    const p = provider({ hooks, retries: 4, backoffInitialMs: 20, backoffMaxMs: 60, random: () => 0.5 });
    const r = await p.etas(DRIVERS, PICKUP);
    expect(osrm.urls.length).toBe(5);
    expect(seen.retries).toEqual([
      { attempt: 1, delayMs: 10 }, { attempt: 2, delayMs: 20 }, { attempt: 3, delayMs: 30 }, { attempt: 4, delayMs: 30 },
    ]);
    expect(seen.attempts).toEqual(Array(5).fill('http_5xx'));
    expect(r.source).toBe('fallback');
    expect(r.etaS).toEqual(estimate(DRIVERS).etaS);
  });

  it('jitter spreads delays below the exponential cap', async () => {
    const { seen, hooks } = recorder();
    osrm.mode = 'fail500';
    let x = 0;
    await provider({ hooks, retries: 3, backoffInitialMs: 40, backoffMaxMs: 1000, random: () => (x = (x + 0.37) % 1) }).etas(DRIVERS, PICKUP);
    const caps = [40, 80, 160];
    seen.retries.forEach(({ delayMs }, i) => {
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThan(caps[i]!);
    });
    expect(new Set(seen.retries.map((r, i) => r.delayMs / caps[i]!)).size).toBeGreaterThan(1);
  });

  it.each<[Mode, OsrmAttemptOutcome]>([
    ['fail429', 'http_429'],
    ['reset', 'network'],
  ])('retries %s (transient) before falling back', async (mode, outcome) => {
    const { seen, hooks } = recorder();
    osrm.mode = mode;
    const r = await provider({ hooks, retries: 2 }).etas(DRIVERS, PICKUP);
    expect(osrm.urls.length).toBe(3);
    expect(seen.attempts).toEqual([outcome, outcome, outcome]);
    expect(r.source).toBe('fallback');
  });

  it('does not retry a 400 and does not count it against the breaker', async () => {
    const { seen, hooks } = recorder();
    osrm.mode = 'fail400';
    const p = provider({ hooks, retries: 3, breakerThreshold: 2 });
    for (let i = 1; i <= 4; i++) {
      const r = await p.etas(DRIVERS, PICKUP);
      expect(r.source).toBe('fallback');
      expect(osrm.urls.length).toBe(i);
    }
    expect(seen.attempts).toEqual(Array(4).fill('http_4xx'));
    expect(seen.retries).toEqual([]);
    expect(p.breakerState).toBe('closed');
    expect(String(seen.errors[0])).toContain('NoSegment');
  });

  it.each<[Mode]>([['notOk'], ['garbage']])('does not retry a malformed answer (%s) but counts it against the breaker', async (mode) => {
    const { seen, hooks } = recorder();
    osrm.mode = mode;
    const p = provider({ hooks, retries: 3, breakerThreshold: 2 });
    await p.etas(DRIVERS, PICKUP);
    expect(osrm.urls.length).toBe(1);
    const r = await p.etas(DRIVERS, PICKUP);
    expect(r.source).toBe('fallback');
    expect(osrm.urls.length).toBe(2);
    expect(p.breakerState).toBe('open');
    expect(seen.attempts).toEqual(['bad_response', 'bad_response']);
  });

  it('an open breaker ends the retries of the call that opened it', async () => {
    const { seen, hooks } = recorder();
    osrm.mode = 'fail500';
    const r = await provider({ hooks, retries: 5, breakerThreshold: 2 }).etas(DRIVERS, PICKUP);
    expect(osrm.urls.length).toBe(2);
    expect(seen.attempts).toEqual(['http_5xx', 'http_5xx', 'breaker_open']);
    expect(seen.states).toEqual(['closed', 'open']);
    expect(r.source).toBe('fallback');
  });

  it('opens after N consecutive failures, refuses calls while open, half-opens after halfOpenAfterMs, closes when the service recovers', async () => {
    const { seen, hooks } = recorder();
    const halfOpenAfterMs = 1_000;
    let openedAt = 0;
    const p = provider({
      retries: 0,
      breakerThreshold: 3,
      halfOpenAfterMs,
      hooks: { ...hooks, onBreakerState: (s) => { if (s === 'open') openedAt = Date.now(); hooks!.onBreakerState!(s); } },
    });
    osrm.mode = 'fail500';
    for (let i = 1; i <= 3; i++) {
      expect((await p.etas(DRIVERS, PICKUP)).source).toBe('fallback');
      expect(osrm.urls.length).toBe(i);
    }
    expect(p.breakerState).toBe('open');
    expect(seen.states).toEqual(['closed', 'open']);

    // While open: immediate fallback, nothing reaches the server. Only calls
    // that start well inside the open window are checked (the margin covers
    // the hook running a moment after the breaker took its timestamp).
    let checked = 0;
    for (let i = 0; i < 20; i++) {
      const startedAt = Date.now();
      const r = await p.etas(DRIVERS, PICKUP);
      if (startedAt < openedAt + halfOpenAfterMs - 100) {
        checked++;
        expect(r.source).toBe('fallback');
        expect(r.etaS).toEqual(estimate(DRIVERS).etaS);
        expect(osrm.urls.length).toBe(3);
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(seen.attempts.filter((a) => a === 'breaker_open').length).toBeGreaterThanOrEqual(checked);

    // The service recovers; calls keep falling back until one probe is let through.
    osrm.mode = 'ok';
    let last: EtaResult | undefined;
    await waitFor(async () => (last = await p.etas(DRIVERS, PICKUP)).source === 'provider', { what: 'the breaker to let a probe through' });
    expect(osrm.urls.length).toBe(4); // exactly one probe
    expect(seen.states).toEqual(['closed', 'open', 'half-open', 'closed']);
    expect(p.breakerState).toBe('closed');
    expect(last!.etaS[0]).toBeCloseTo(routedS(DRIVERS[0]!, FAKE_SPEED.car!), 6);
    expect((await p.etas(DRIVERS, PICKUP)).source).toBe('provider');
    expect(osrm.urls.length).toBe(5);
  });

  it('opens again when the half-open probe fails', async () => {
    const { seen, hooks } = recorder();
    osrm.mode = 'fail500';
    const p = provider({ hooks, retries: 0, breakerThreshold: 2, halfOpenAfterMs: 50 });
    await p.etas(DRIVERS, PICKUP);
    await p.etas(DRIVERS, PICKUP);
    expect(p.breakerState).toBe('open');
    await waitFor(async () => {
      await p.etas(DRIVERS, PICKUP);
      return osrm.urls.length === 3;
    }, { what: 'the half-open probe' });
    expect(seen.states).toEqual(['closed', 'open', 'half-open', 'open']);
    expect(p.breakerState).toBe('open');
  });

  it('falls back for a service that is not listening at all', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { seen, hooks } = recorder();
    const r = await new OsrmEtaProvider({ baseUrl: `http://127.0.0.1:${port}`, retries: 1, backoffInitialMs: 1, hooks }).etas(DRIVERS, PICKUP);
    expect(r.source).toBe('fallback');
    expect(seen.attempts).toEqual(['network', 'network']);
  });

  it('a hook that throws changes nothing', async () => {
    const boom = () => {
      throw new Error('hook failed');
    };
    const hooks = { onSource: boom, onBreakerState: boom, onAttempt: boom, onRetry: boom, onError: boom };
    const p = provider({ hooks, retries: 1, breakerThreshold: 1 });
    expect((await p.etas(DRIVERS, PICKUP)).source).toBe('provider');
    osrm.mode = 'fail500';
    expect((await p.etas(DRIVERS, PICKUP)).source).toBe('fallback');
    expect(p.breakerState).toBe('open');
  });

  it.each<[Partial<OsrmEtaOptions>, string]>([
    [{ baseUrl: 'not a url' }, 'baseUrl must be an http(s) URL (got not a url)'],
    [{ baseUrl: 'ftp://osrm:21' }, 'baseUrl must be an http(s) URL (got ftp://osrm:21)'],
    [{ timeoutMs: 0 }, 'timeoutMs must be an integer >= 1 (got 0)'],
    [{ retries: -1 }, 'retries must be an integer >= 0 (got -1)'],
    [{ retries: 1.5 }, 'retries must be an integer >= 0 (got 1.5)'],
    [{ backoffInitialMs: 100, backoffMaxMs: 50 }, 'backoffMaxMs must be an integer >= 100 (got 50)'],
    [{ breakerThreshold: 0 }, 'breakerThreshold must be an integer >= 1 (got 0)'],
    [{ halfOpenAfterMs: 0 }, 'halfOpenAfterMs must be an integer >= 1 (got 0)'],
    [{ maxCoordinates: 1 }, 'maxCoordinates must be an integer >= 2 (got 1)'],
    [{ pickupOverheadS: -5 }, 'pickupOverheadS must be a finite number >= 0 (got -5)'],
    [{ profiles: { car: 'car/../x' } }, 'profiles.car must be a profile name of letters, digits, _ . - (got car/../x)'],
    [{ profiles: { boat: 'x' } as never }, 'profiles.boat is not a vehicle type (walk, bike, scooter, car)'],
    [{ unknownVehicle: 'boat' as never }, 'unknownVehicle must be one of walk, bike, scooter, car (got boat)'],
  ])('rejects %j with a message naming the option', (options, message) => {
    expect(() => new OsrmEtaProvider({ baseUrl: 'http://127.0.0.1:5000', ...options })).toThrow(message);
  });
});
