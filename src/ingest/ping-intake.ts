import type { VehicleType } from '../domain/vehicle.js';
import type { Ping } from '../geo/driver-store.js';
import { type ErrorCode, ErrorCodes, HexfleetError } from '../protocol/error-codes.js';
import type { AckFrame, ErrorFrame, PingsRejectedFrame } from '../protocol/wire-frames.js';
import type { Metrics } from '../runtime/metrics.js';
import type { TokenBucket } from '../runtime/token-bucket.js';
import type { IngestPipeline } from './ingest-pipeline.js';
import { PingRejections } from './ping-rejections.js';
import { isRejection, validatePing } from './ping-validator.js';

/** The connection a `pings` frame came from, as ingest needs it. */
export interface PingSource {
  driverId: string;
  vehicle: VehicleType | undefined;
  /** Pings/s allowance of the connection. */
  rate: TokenBucket;
}

export interface PingIntakeOptions {
  maxBatch: number;
  maxFutureMs: number;
  maxAgeMs: number;
}

/** Where replies go: `now` for the rejections found at once (one frame), `later` for the ack or batch error once the store answered. */
export interface PingReplies {
  now(frame: ErrorFrame | PingsRejectedFrame): void;
  later(frame: AckFrame | ErrorFrame): void;
}

/**
 * The `pings` frame of `/v1/driver`: validates each ping, applies the
 * connection's rate limit, and submits the valid ones to the ingest pipeline;
 * the ack goes out once the store confirmed the batch.
 *
 * Every ping of the frame, valid or not, spends the connection's rate
 * allowance (invalid ones first); the valid pings past it, the trailing ones
 * by seq, get `rate_limited`, so the ack still covers the rest. The
 * rejections of one frame get one reply (see PingRejections), never one per
 * ping. A frame that is not a usable batch throws (the caller answers and
 * counts it as a bad frame).
 */
export class PingIntake {
  constructor(
    private readonly pipeline: IngestPipeline,
    private readonly metrics: Metrics,
    private readonly options: PingIntakeOptions,
  ) {}

  /**
   * Takes one frame's pings; returns false when any of them was invalid
   * (the frame counts against the connection's bad-frame budget).
   * Throws `invalid_batch` or `batch_too_large`.
   */
  take(source: PingSource, rawPings: unknown, now: number, reply: PingReplies): boolean {
    if (!Array.isArray(rawPings) || rawPings.length === 0) throw new HexfleetError('invalid_batch');
    if (rawPings.length > this.options.maxBatch) {
      throw new HexfleetError('batch_too_large', `${rawPings.length} pings in one frame; at most ${this.options.maxBatch}`);
    }
    this.metrics.pingsReceived.inc(rawPings.length);
    this.metrics.batchSize.observe(rawPings.length);
    const rejections = new PingRejections();
    let valid: Ping[] = [];
    for (const raw of rawPings) {
      const v = validatePing(raw, now, this.options);
      if (isRejection(v)) rejections.add(v.code, v.seq);
      else valid.push(v);
    }
    valid.sort((a, b) => a.seq - b.seq);
    const room = Math.max(0, source.rate.take(rawPings.length, now) - rejections.invalid);
    if (valid.length > room) {
      rejections.addRateLimited(valid.slice(room).map((p) => p.seq));
      valid = valid.slice(0, room);
    }
    const answer = rejections.reply(rawPings.length, valid.length);
    if (answer) {
      for (const [code, n] of rejections.byCode()) this.metrics.pingsRejected.inc({ code }, n);
      reply.now(answer);
    }
    if (valid.length > 0) {
      const lastSeq = valid[valid.length - 1]!.seq;
      const batch = source.vehicle ? { driverId: source.driverId, vehicle: source.vehicle, pings: valid } : { driverId: source.driverId, pings: valid };
      this.pipeline.submit(batch).then(
        () => reply.later({ type: 'ack', seq: lastSeq }),
        (err: HexfleetError) => reply.later(this.rejected(err.code, lastSeq, err.message)),
      );
    }
    return rejections.invalid === 0;
  }

  private rejected(code: ErrorCode, seq: number | undefined, message?: string): ErrorFrame {
    this.metrics.pingsRejected.inc({ code });
    const frame: ErrorFrame = { type: 'error', code, message: message ?? ErrorCodes[code].message };
    if (seq !== undefined) frame.seq = seq;
    return frame;
  }
}
