/** The window in which HEXFLEET_BAD_FRAME_LIMIT rejected frames are tolerated. */
const BAD_FRAME_WINDOW_MS = 60_000;

/** The state of the budget (one per principal, shared by its connections: see PrincipalBudgets). */
export interface BadFrameCounter {
  badFrames: number;
  badWindowStart: number;
}

/** True when the counter's window has passed by `now`: it is then what a new one would be. */
export function badFramesExpired(c: BadFrameCounter, now: number): boolean {
  return now - c.badWindowStart > BAD_FRAME_WINDOW_MS;
}

/**
 * Counts one rejected frame of a connection; true once it has sent more than
 * `limit` in the current one-minute window (the caller closes it with 4400).
 */
export function spendBadFrame(c: BadFrameCounter, now: number, limit: number): boolean {
  if (now - c.badWindowStart > BAD_FRAME_WINDOW_MS) {
    c.badWindowStart = now;
    c.badFrames = 0;
  }
  return ++c.badFrames > limit;
}
