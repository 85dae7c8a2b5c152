import type { RegionEntry, RegionsAnswer } from '../protocol/regions-answer.js';

/** The region a client goes to, and why. */
export interface ChosenRegion {
  name: string;
  /** WebSocket URLs of the endpoint path in this region, the one that answered the RTT probe first. */
  urls: string[];
  /** Round trip of this client's probe of the region (GET /healthz), ms. */
  rttMs: number;
  /** Every healthy region this client measured, with its round trip (the chosen one is the lowest). */
  measured: { name: string; rttMs: number }[];
}

export interface RegionSelectorOptions {
  /** Regional endpoints, base URLs (https://host:port; ws:// and wss:// are read as http:// and https://). */
  endpoints: readonly string[];
  /** The WebSocket path the client opens in the chosen region. */
  path: '/v1/driver' | '/v1/track';
  /** A request to an endpoint that has not answered by then counts as failed. */
  timeoutMs: number;
}

/**
 * Picks the region a client connects to: asks `GET /v1/regions` of the
 * endpoints in turn until one answers (so several DNS names at several
 * providers are tried before giving up), keeps the regions that answer
 * healthy (reachable and ready), measures this client's round trip to each
 * (GET /healthz) and takes the lowest. Endpoints the answers name are learnt,
 * so a client given one region's name finds the others.
 *
 * A region the caller lost is avoided while another healthy one answers: the
 * gateways' probes may not have noticed the loss yet. With every healthy
 * region lost, the lost ones are tried again (one may be back).
 */
export class RegionSelector {
  private readonly known: string[];

  constructor(private readonly o: RegionSelectorOptions) {
    this.known = [];
    for (const e of o.endpoints) this.learn(baseUrl(e));
  }

  /** The chosen region, or undefined when no endpoint answered or no healthy region was measured. */
  async choose(lost: ReadonlySet<string>): Promise<ChosenRegion | undefined> {
    const answered = await this.regions();
    if (!answered) return undefined;
    const healthy = answered.regions.filter((r) => r.reachable && r.ready && r.endpoints.length > 0);
    const preferred = healthy.filter((r) => !lost.has(r.name));
    const candidates = preferred.length > 0 ? preferred : healthy;
    const measured = (await Promise.all(candidates.map((r) => this.measure(r)))).filter((m) => m !== undefined);
    if (measured.length === 0) return undefined;
    const best = measured.reduce((a, b) => (b.rttMs < a.rttMs ? b : a));
    const urls = [best.answeredBy, ...best.region.endpoints.filter((e) => e !== best.answeredBy)].map((e) => wsUrl(e, this.o.path));
    return { name: best.region.name, urls, rttMs: best.rttMs, measured: measured.map((m) => ({ name: m.region.name, rttMs: m.rttMs })) };
  }

  /** The first answer of GET /v1/regions, its answering endpoint added to its own region's list. */
  private async regions(): Promise<RegionsAnswer | undefined> {
    for (const base of [...this.known]) {
      try {
        const res = await fetch(`${base}/v1/regions`, { signal: AbortSignal.timeout(this.o.timeoutMs), headers: { accept: 'application/json' } });
        if (res.status !== 200) {
          await res.body?.cancel();
          continue;
        }
        const body = (await res.json()) as RegionsAnswer;
        if (!Array.isArray(body.regions)) continue;
        for (const r of body.regions) {
          r.endpoints = (Array.isArray(r.endpoints) ? r.endpoints : []).map(baseUrl);
          // The gateway that answered is in its own region, listed there or not.
          if (r.self && !r.endpoints.includes(base)) r.endpoints.push(base);
          for (const e of r.endpoints) this.learn(e);
        }
        return body;
      } catch {
        // Unreachable, timed out or not a hexfleet answer: the next endpoint.
      }
    }
    return undefined;
  }

  /** This client's round trip to a region: its endpoints in turn, the first that answers GET /healthz. */
  private async measure(region: RegionEntry): Promise<{ region: RegionEntry; rttMs: number; answeredBy: string } | undefined> {
    for (const base of region.endpoints) {
      const started = performance.now();
      try {
        const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(this.o.timeoutMs) });
        await res.body?.cancel();
        if (res.status === 200) return { region, rttMs: Math.round((performance.now() - started) * 10) / 10, answeredBy: base };
      } catch {
        // The next endpoint of the region.
      }
    }
    return undefined;
  }

  private learn(base: string): void {
    if (!this.known.includes(base)) this.known.push(base);
  }
}

/** `wss://host:port/v1/driver` or `https://host:port/` → `https://host:port`. */
export function baseUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (!/^(https?|wss?):$/.test(u.protocol)) throw new TypeError(`${endpoint} is not an http(s):// or ws(s):// URL`);
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  const path = u.pathname.replace(/\/(v1\/driver|v1\/track)?\/?$/, '');
  return `${scheme}//${u.host}${path}`;
}

function wsUrl(base: string, path: string): string {
  return base.replace(/^http/, 'ws') + path;
}
