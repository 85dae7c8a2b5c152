import { RegionSelector } from './region-selector.js';

/** The options both clients take to say where to connect: gateway URLs, or regional endpoints. */
export interface EndpointOptions {
  /** Gateway URLs of the endpoint (ws:// or wss://); the client fails over between them in order. Exclusive with `endpoints`. */
  urls?: readonly string[];
  /**
   * Regional endpoints, base URLs (`https://eu.example.com`, `https://eu.example.net`, `https://us.example.com`):
   * the client asks `GET /v1/regions` of any that answers, connects to the
   * healthy region with the lowest round trip from here, and when that region
   * is lost (its socket closed and `regionAttempts` connects to it failed)
   * moves to the next healthy one. Several names at several DNS providers
   * make the client survive one provider's failure. Exclusive with `urls`.
   */
  endpoints?: readonly string[];
  /** Failed connects to a region after which it is given up for another (default 2; at least one per URL of the region). */
  regionAttempts?: number;
  /** A regions or round-trip request not answered by then counts as failed (default 3000 ms). */
  regionProbeTimeoutMs?: number;
}

/** The validated targets of a client: fixed URLs, or a region selector (then `urls` is empty until a region is chosen). */
export function endpointTargets(o: EndpointOptions, path: '/v1/driver' | '/v1/track'): { urls: readonly string[]; regions?: RegionSelector; regionAttempts?: number } {
  const hasUrls = o.urls !== undefined;
  const hasEndpoints = o.endpoints !== undefined;
  if (hasUrls === hasEndpoints) throw new TypeError('give either urls (gateway WebSocket URLs) or endpoints (regional base URLs), not both and not neither');
  if (hasUrls) {
    if (!Array.isArray(o.urls) || o.urls.length === 0) throw new TypeError('urls must be a non-empty array of ws:// or wss:// URLs');
    return { urls: o.urls };
  }
  if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) throw new TypeError('endpoints must be a non-empty array of https:// (or http://) base URLs');
  const regionAttempts = o.regionAttempts ?? 2;
  if (!Number.isSafeInteger(regionAttempts) || regionAttempts < 1) throw new TypeError(`regionAttempts must be a positive integer, got ${String(regionAttempts)}`);
  const timeoutMs = o.regionProbeTimeoutMs ?? 3000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new TypeError(`regionProbeTimeoutMs must be a positive integer, got ${String(timeoutMs)}`);
  // Throws a TypeError naming an endpoint that is not an http(s)/ws(s) URL.
  const regions = new RegionSelector({ endpoints: o.endpoints, path, timeoutMs });
  return { urls: [], regions, regionAttempts };
}
