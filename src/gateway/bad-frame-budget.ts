import type { HttpResponse } from 'uWebSockets.js';

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

/** True while the principal has spent its budget in the current window: its connections are closed at their first bad frame. */
export function badFramesSpent(c: BadFrameCounter, now: number, limit: number): boolean {
  return !badFramesExpired(c, now) && c.badFrames > limit;
}

/**
 * Refuses the upgrade of a principal that spent its bad-frame budget this
 * minute: 429 `too_many_frames` with Retry-After (the rest of the window),
 * and no socket, so an abuser reconnecting at once after its 4400 costs one
 * HTTP answer instead of a socket and the frames it sends before the close.
 */
export function refuseSpentBudget(res: HttpResponse, c: BadFrameCounter, now: number): void {
  const retryAfterS = Math.max(1, Math.ceil((c.badWindowStart + BAD_FRAME_WINDOW_MS - now) / 1000));
  res.writeStatus('429 Too Many Requests').writeHeader('content-type', 'application/json').writeHeader('retry-after', String(retryAfterS))
    .end(JSON.stringify({ code: 'too_many_frames', message: `this token sent more than HEXFLEET_BAD_FRAME_LIMIT rejected frames this minute; connect again in ${retryAfterS} s` }));
}
