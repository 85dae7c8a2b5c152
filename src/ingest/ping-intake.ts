import type { VehicleType } from '../domain/vehicle.js';
import type { Ping } from '../geo/driver-store.js';
import { type ErrorCode, ErrorCodes, HexfleetError } from '../protocol/error-codes.js';
import type { AckFrame, ErrorFrame } from '../protocol/wire-frames.js';
import type { Metrics } from '../runtime/metrics.js';
import type { TokenBucket } from '../runtime/token-bucket.js';
import type { IngestPipeline } from './ingest-pipeline.js';
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

/** Where replies go: `now` for rejections found at once, `later` for the ack or batch error once the store answered. */
export interface PingReplies {
  now(frame: ErrorFrame): void;
  later(frame: AckFrame | ErrorFrame): void;
}

/**
 * The `pings` frame of `/v1/driver`: validates each ping, applies the
 * connection's rate limit, and submits the valid ones to the ingest pipeline;
 * the ack goes out once the store confirmed the batch.
 *
 * An invalid ping is rejected alone (an error with its seq); the trailing
 * pings over the rate limit get `rate_limited`, so the ack still covers the
 * rest. A frame that is not a usable batch throws (the caller answers and
 * counts it as a bad frame).
 */
export class PingIntake {
  constructor(
    private readonly pipeline: IngestPipeline,
    private readonly metrics: Metrics,
    private readonly options: PingIntakeOptions,
  ) {}

  /** Takes one frame's pings; returns false when none of them was usable (a bad frame). Throws `invalid_batch` or `batch_too_large`. */
  take(source: PingSource, rawPings: unknown, now: number, reply: PingReplies): boolean {
    if (!Array.isArray(rawPings) || rawPings.length === 0) throw new HexfleetError('invalid_batch');
    if (rawPings.length > this.options.maxBatch) {
      throw new HexfleetError('batch_too_large', `${rawPings.length} pings in one frame; at most ${this.options.maxBatch}`);
    }
    this.metrics.pingsReceived.inc(rawPings.length);
    this.metrics.batchSize.observe(rawPings.length);
    let valid: Ping[] = [];
    for (const raw of rawPings) {
      const v = validatePing(raw, now, this.options);
      if (isRejection(v)) reply.now(this.rejected(v.code, v.seq));
      else valid.push(v);
    }
    if (valid.length === 0) return false;
    valid.sort((a, b) => a.seq - b.seq);
    const granted = source.rate.take(valid.length, now);
    if (granted < valid.length) {
      for (const p of valid.slice(granted)) reply.now(this.rejected('rate_limited', p.seq));
      valid = valid.slice(0, granted);
      if (valid.length === 0) return true;
    }
    const lastSeq = valid[valid.length - 1]!.seq;
    const batch = source.vehicle ? { driverId: source.driverId, vehicle: source.vehicle, pings: valid } : { driverId: source.driverId, pings: valid };
    this.pipeline.submit(batch).then(
      () => reply.later({ type: 'ack', seq: lastSeq }),
      (err: HexfleetError) => reply.later(this.rejected(err.code, lastSeq, err.message)),
    );
    return true;
  }

  private rejected(code: ErrorCode, seq: number | undefined, message?: string): ErrorFrame {
    this.metrics.pingsRejected.inc({ code });
    const frame: ErrorFrame = { type: 'error', code, message: message ?? ErrorCodes[code].message };
    if (seq !== undefined) frame.seq = seq;
    return frame;
  }
}
