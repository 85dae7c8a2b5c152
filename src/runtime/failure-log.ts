import type { Logger } from 'pino';
import { detailOf } from '../protocol/error-codes.js';

/**
 * While something stays down, how often it is mentioned again: often enough
 * that a log search over the last minutes finds the outage, rare enough
 * that a poller retrying four times a second writes one line a minute.
 */
export const FAILURE_REMINDER_MS = 60_000;

export interface FailureLogOptions {
  /** Between two reminders while it keeps failing (default FAILURE_REMINDER_MS). */
  reminderMs?: number;
  /** Level of the failing and reminder lines (default warn). */
  level?: 'warn' | 'error';
  /** Fields on every line (e.g. the topic of an outbox relay). */
  fields?: Record<string, unknown>;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * The log of something that is tried again and again (a periodic task, a
 * retry loop over a dependency): one line per change of state, never one per
 * attempt.
 *
 * - the first failure: `<what> failing: <consequence>` with the cause;
 * - while it keeps failing: `<what> still failing` at most every
 *   `reminderMs`, with the failures since the previous line, the latest
 *   cause and how long it has been failing;
 * - the first success after failures: `<what> recovered` (info) with the
 *   failures and how long the outage lasted.
 *
 * Successes while healthy and failures between reminders write nothing.
 * Not safe for concurrent use by unrelated tasks: one instance per task.
 */
export class FailureLog {
  private since: number | undefined;
  private lastLineAt = 0;
  /** Failures since the last line written. */
  private unlogged = 0;
  /** Failures of the current outage. */
  private total = 0;
  private readonly reminderMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    /** What fails, as a noun phrase: "deadline poll", "redis". */
    private readonly what: string,
    /** What the failure means while it lasts (e.g. "offers past their deadline are not moved on"). */
    private readonly consequence: string,
    private readonly o: FailureLogOptions = {},
  ) {
    this.reminderMs = o.reminderMs ?? FAILURE_REMINDER_MS;
    this.now = o.now ?? Date.now;
  }

  /** True between a failure and the next success. */
  get failing(): boolean {
    return this.since !== undefined;
  }

  /** One failed attempt; `fields` are added to the line if one is written. */
  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    const now = this.now();
    this.total++;
    this.unlogged++;
    const level = this.o.level ?? 'warn';
    if (this.since === undefined) {
      this.since = now;
      this.write(level, now, { ...fields, err: detailOf(err) }, `${this.what} failing: ${this.consequence}; retrying (logged again when it recovers, or every ${Math.round(this.reminderMs / 1000)} s while it fails)`);
    } else if (now - this.lastLineAt >= this.reminderMs) {
      this.write(level, now, { ...fields, err: detailOf(err), failures: this.unlogged, failingForMs: now - this.since }, `${this.what} still failing: ${this.consequence}`);
    }
  }

  /** One successful attempt: logs the recovery if it was failing. */
  succeeded(fields: Record<string, unknown> = {}): void {
    if (this.since === undefined) return;
    const now = this.now();
    this.write('info', now, { ...fields, failures: this.total, failedForMs: now - this.since }, `${this.what} recovered`);
    this.since = undefined;
    this.total = 0;
  }

  private write(level: 'info' | 'warn' | 'error', now: number, fields: Record<string, unknown>, msg: string): void {
    this.log[level]({ ...this.o.fields, ...fields }, msg);
    this.lastLineAt = now;
    this.unlogged = 0;
  }
}
