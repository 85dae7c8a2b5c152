import { type ErrorCode, ErrorCodes } from '../protocol/error-codes.js';
import { type ErrorFrame, PINGS_REJECTED_LISTED, type PingsRejectedFrame } from '../protocol/wire-frames.js';

/**
 * The rejections of one `pings` frame, turned into one bounded reply: a
 * frame of 500 invalid pings costs its sender one error frame, not 500.
 * With exactly one rejection the reply is that ping's own ErrorFrame (code,
 * seq), as clients have always read it.
 */
export class PingRejections {
  /** Rejected pings (rate-limited included). */
  total = 0;
  /** Rejected as invalid (not for the rate): what makes the frame a bad frame. */
  invalid = 0;
  private readonly counts: Partial<Record<ErrorCode, number>> = {};
  private readonly listed: { seq: number; code: ErrorCode }[] = [];
  private first: { code: ErrorCode; seq: number | undefined } | undefined;
  private retryFromSeq: number | undefined;

  /** One invalid ping (`seq` when it had a usable one). */
  add(code: ErrorCode, seq: number | undefined): void {
    this.invalid++;
    this.count(code, seq);
  }

  /** Valid pings refused for the connection's rate: the trailing ones of the frame in seq order. */
  addRateLimited(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.retryFromSeq = seqs[0];
    for (const seq of seqs) this.count('rate_limited', seq);
  }

  /** Rejected pings by code, for the metrics. */
  byCode(): Iterable<[ErrorCode, number]> {
    return Object.entries(this.counts) as [ErrorCode, number][];
  }

  /** The reply, when anything was rejected; `accepted` pings went to the store. */
  reply(frameSize: number, accepted: number): ErrorFrame | PingsRejectedFrame | undefined {
    if (this.total === 0) return undefined;
    if (this.total === 1) {
      const { code, seq } = this.first!;
      const frame: ErrorFrame = { type: 'error', code, message: ErrorCodes[code].message };
      if (seq !== undefined) frame.seq = seq;
      return frame;
    }
    const summary = Object.entries(this.counts).map(([code, n]) => `${code} ${n}`).join(', ');
    const frame: PingsRejectedFrame = {
      type: 'error',
      code: 'pings_rejected',
      message: `${this.total} of ${frameSize} pings rejected (${summary}); the first are listed in rejected${this.retryFromSeq === undefined ? '' : ', resend from retryFromSeq'}`,
      counts: this.counts as Record<string, number>,
      rejected: this.listed,
      accepted,
    };
    if (this.retryFromSeq !== undefined) frame.retryFromSeq = this.retryFromSeq;
    return frame;
  }

  private count(code: ErrorCode, seq: number | undefined): void {
    this.total++;
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    this.first ??= { code, seq };
    if (seq !== undefined && this.listed.length < PINGS_REJECTED_LISTED) this.listed.push({ seq, code });
  }
}
