/**
 * The body of `GET /v1/regions`: the one definition the gateway builds it
 * with and the SDK reads it with.
 *
 * Nothing stale is shown as fresh: `reachable`, `ready` and `load` are the
 * last probe's only while that probe succeeded; a region whose last probe
 * failed is `reachable: false` with no `load`, and `lastGoodAgeMs` says how
 * old the last good answer is (absent: never answered since this gateway
 * started).
 */
export interface RegionsAnswer {
  /** The region of the gateway that answered. */
  region: string;
  regions: RegionEntry[];
}

export interface RegionEntry {
  name: string;
  /** Public base URLs (http:// or https://); clients add /v1/driver or /v1/track (ws:// or wss://). */
  endpoints: string[];
  /** The answering gateway's own region: its health and load are its own state, not a probe. */
  self: boolean;
  /** The last probe got an answer (always true for `self`). */
  reachable: boolean;
  /** The region's gateway said it was ready (its store answered). */
  ready: boolean;
  /** Age of the health shown: of the last probe (failed or not) for another region, 0 for `self`. */
  probeAgeMs: number;
  /** Age of the last successful probe; absent when there was none. */
  lastGoodAgeMs?: number;
  /** Round trip of the last successful probe, ms (from the answering gateway, not from a client). */
  rttMs?: number;
  /** What the last probe failed with (while unreachable). */
  error?: string;
  /** Present only while `reachable`: the region's own figures, as one of its gateways reports them. */
  load?: RegionLoad;
}

/** Load, as the gateway that answers for its region counts it. */
export interface RegionLoad {
  /** Open driver sockets on that gateway. */
  connectedDrivers: number;
  /** Pings stored per second on that gateway, over the last probe interval. */
  pingsPerSec: number;
}
