/**
 * How fresh an order's courier position is, as a tracking client sees it:
 *
 *   waiting ── driver accepts ──▶ live ── silent > degradedMs ──▶ degraded ── silent > offlineMs ──▶ lost
 *                                  ▲                                 │                                │
 *                                  └──────────── next ping ──────────┴────────────────────────────────┘
 *
 * `waiting`: no driver assigned (unknown order, searching, offered, or no
 * longer assigned). Silence is measured on the fix time of the last-known
 * position (`now - ts`), so a position flushed late from a phone's buffer is
 * never shown as fresh.
 */
export type LinkState = 'waiting' | 'live' | 'degraded' | 'lost';

export interface LinkThresholds {
  degradedMs: number;
  offlineMs: number;
}

/** The state of an assigned driver whose last fix has `ageMs` (undefined: no position known). */
export function linkStateOf(ageMs: number | undefined, t: LinkThresholds): Exclude<LinkState, 'waiting'> {
  if (ageMs === undefined || ageMs > t.offlineMs) return 'lost';
  return ageMs > t.degradedMs ? 'degraded' : 'live';
}
