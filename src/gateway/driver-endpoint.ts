import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, us_socket_context_t, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import type { Config } from '../config/config-schema.js';
import { type TokenService, TokenError } from '../auth/tokens.js';
import { CloseCodes, type ErrorCode, ErrorCodes, HexfleetError } from '../protocol/error-codes.js';
import type { VehicleType } from '../domain/vehicle.js';
import type { DriverChannel } from '../orders/driver-channel.js';
import type { OrderSaga } from '../orders/order-saga.js';
import type { Ping } from '../geo/driver-store.js';
import { spendBadFrame } from './bad-frame-budget.js';
import { readUpgrade, refuseUpgrade } from './ws-upgrade.js';
import type { Metrics } from '../runtime/metrics.js';
import { decodeFrame, encodeReply } from '../protocol/frame-codec.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import { isRejection, validatePing } from '../ingest/ping-validator.js';
import { TokenBucket } from '../runtime/token-bucket.js';

/** Typed per-socket state, filled from the request in `upgrade` (uWS frees the request after it). */
export interface DriverSocketData {
  driverId: string;
  vehicle: VehicleType | undefined;
  expiresAt: number | undefined;
  remote: string;
  rate: TokenBucket;
  badFrames: number;
  badWindowStart: number;
  /** Set in `close`: replies that resolve later must not touch the socket. */
  closed: boolean;
  /** Encoding of the driver's last frame: pushed messages (offers) use it. */
  binary: boolean;
  /** Stops offer delivery to this socket. */
  detach: (() => void) | undefined;
}

type DriverSocket = WebSocket<DriverSocketData>;

/** Driver ids become Redis hash fields and log fields: keep them short and printable. */
const DRIVER_ID = /^[\x21-\x7e]{1,128}$/;

export interface DriverSocketDeps {
  config: Config;
  tokens: TokenService;
  pipeline: IngestPipeline;
  metrics: Metrics;
  log: Logger;
  /** Open sockets, so shutdown can close them. */
  sockets: Set<DriverSocket>;
  /** Offers: delivery to this socket and the driver's answers. */
  dispatch: { saga: OrderSaga; channel: DriverChannel };
}

/**
 * The `/v1/driver` endpoint: authenticates the upgrade, decodes and validates
 * ping frames, and acks each batch once its pings are stored.
 *
 * One bad frame costs its sender an error reply, never the gateway: every
 * decode and validation failure is caught here and answered in kind.
 */
export function driverSocketBehavior(deps: DriverSocketDeps): WebSocketBehavior<DriverSocketData> {
  const { config, tokens, pipeline, metrics, log, sockets, dispatch } = deps;
  const limits = { maxFutureMs: config.maxFutureMs, maxAgeMs: config.maxAgeMs };

  function send(ws: DriverSocket, reply: object, binary: boolean): void {
    const data = ws.getUserData();
    if (data.closed) return;
    if (ws.getBufferedAmount() > config.maxBackpressureBytes) {
      // The app does not read its acks; holding more for it would hurt everyone.
      data.closed = true;
      metrics.connectionsClosed.inc({ reason: 'slow_consumer' });
      ws.end(CloseCodes.slow_consumer.code, 'slow_consumer');
      return;
    }
    ws.send(encodeReply(reply, binary), binary);
  }

  function sendError(ws: DriverSocket, code: ErrorCode, binary: boolean, seq?: number, message?: string): void {
    metrics.pingsRejected.inc({ code });
    const reply: Record<string, unknown> = { type: 'error', code, message: message ?? ErrorCodes[code].message };
    if (seq !== undefined) reply.seq = seq;
    send(ws, reply, binary);
  }

  /** Counts a rejected frame; too many in a window closes the connection. */
  function badFrame(ws: DriverSocket, now: number): void {
    const data = ws.getUserData();
    if (spendBadFrame(data, now, config.badFrameLimit) && !data.closed) {
      data.closed = true;
      metrics.connectionsClosed.inc({ reason: 'protocol_violation' });
      log.warn({ driverId: data.driverId, remote: data.remote }, 'closing driver connection: too many malformed frames');
      ws.end(CloseCodes.protocol_violation.code, 'protocol_violation');
    }
  }

  function onPings(ws: DriverSocket, rawPings: unknown, binary: boolean, now: number): void {
    const data = ws.getUserData();
    if (!Array.isArray(rawPings) || rawPings.length === 0) {
      sendError(ws, 'invalid_batch', binary);
      return badFrame(ws, now);
    }
    if (rawPings.length > config.maxBatch) {
      sendError(ws, 'batch_too_large', binary, undefined, `${rawPings.length} pings in one frame; at most ${config.maxBatch}`);
      return badFrame(ws, now);
    }
    metrics.pingsReceived.inc(rawPings.length);
    metrics.batchSize.observe(rawPings.length);
    let valid: Ping[] = [];
    for (const raw of rawPings) {
      const v = validatePing(raw, now, limits);
      if (isRejection(v)) sendError(ws, v.code, binary, v.seq);
      else valid.push(v);
    }
    if (valid.length === 0) return badFrame(ws, now);
    valid.sort((a, b) => a.seq - b.seq);
    const granted = data.rate.take(valid.length, now);
    if (granted < valid.length) {
      for (const p of valid.slice(granted)) sendError(ws, 'rate_limited', binary, p.seq);
      valid = valid.slice(0, granted);
      if (valid.length === 0) return;
    }
    const lastSeq = valid[valid.length - 1]!.seq;
    pipeline.submit(data.vehicle ? { driverId: data.driverId, vehicle: data.vehicle, pings: valid } : { driverId: data.driverId, pings: valid }).then(
      () => {
        if (!data.closed) ws.cork(() => send(ws, { type: 'ack', seq: lastSeq }, binary));
      },
      (err: HexfleetError) => {
        if (!data.closed) ws.cork(() => sendError(ws, err.code, binary, lastSeq, err.message));
      },
    );
  }

  /** `{"type":"offer_reply","orderId","accept"}` → `{"type":"offer_result","orderId","state"}` or an error with orderId. */
  function onOfferReply(ws: DriverSocket, f: Record<string, unknown>, binary: boolean, now: number): void {
    const data = ws.getUserData();
    if (typeof f.orderId !== 'string' || f.orderId === '' || typeof f.accept !== 'boolean') {
      sendError(ws, 'invalid_frame', binary, undefined, 'offer_reply needs a string orderId and a boolean accept');
      return badFrame(ws, now);
    }
    const orderId = f.orderId;
    dispatch.saga.reply(orderId, data.driverId, f.accept, now).then(
      (doc) => {
        if (!data.closed) ws.cork(() => send(ws, { type: 'offer_result', orderId, state: doc.state === 'accepted' ? 'accepted' : 'rejected' }, binary));
      },
      (err: unknown) => {
        const code = err instanceof HexfleetError ? err.code : 'internal';
        if (code === 'internal') log.error({ err, orderId, driverId: data.driverId }, 'offer reply failed');
        metrics.pingsRejected.inc({ code });
        if (!data.closed) ws.cork(() => send(ws, { type: 'error', code, message: ErrorCodes[code].message, orderId }, binary));
      },
    );
  }

  return {
    idleTimeout: config.idleTimeoutS,
    maxPayloadLength: config.maxFrameBytes,
    maxBackpressure: config.maxBackpressureBytes,
    sendPingsAutomatically: true,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const { token, key, protocol, extensions, remote } = readUpgrade(res, req);
      let data: DriverSocketData;
      try {
        // Synchronous on purpose: an upgrade completed after an await can be
        // closed by uWebSockets.js right after open (see TokenService.verify).
        const principal = tokens.verify(token, ['driver']);
        if (!DRIVER_ID.test(principal.sub)) throw new TokenError('unauthorized', 'the token subject is not a usable driver id');
        const now = Date.now();
        data = {
          driverId: principal.sub,
          vehicle: principal.vehicle,
          expiresAt: principal.expiresAt,
          remote,
          rate: new TokenBucket(config.ratePingsPerSec, config.rateBurst, now),
          badFrames: 0,
          badWindowStart: now,
          closed: false,
          binary: false,
          detach: undefined,
        };
      } catch (err: unknown) {
        refuseUpgrade(res, err, log, '/v1/driver');
        return;
      }
      res.upgrade(data, key, protocol, extensions, context);
    },

    open(ws) {
      sockets.add(ws);
      metrics.driverConnections.inc();
      const data = ws.getUserData();
      const { driverId, remote } = data;
      data.detach = dispatch.channel.attach(driverId, (message) => {
        if (!data.closed) ws.cork(() => send(ws, message, data.binary));
      });
      log.info({ driverId, remote }, 'driver connected');
    },

    message(ws, message, isBinary) {
      const data = ws.getUserData();
      if (data.closed) return;
      const now = Date.now();
      if (data.expiresAt !== undefined && now >= data.expiresAt) {
        data.closed = true;
        metrics.connectionsClosed.inc({ reason: 'token_expired' });
        ws.end(CloseCodes.token_expired.code, 'token_expired');
        return;
      }
      let frame: unknown;
      try {
        frame = decodeFrame(message, isBinary);
      } catch (err) {
        sendError(ws, (err as HexfleetError).code, isBinary, undefined, (err as Error).message);
        return badFrame(ws, now);
      }
      if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') {
        sendError(ws, 'invalid_frame', isBinary);
        return badFrame(ws, now);
      }
      const f = frame as { type: string; pings?: unknown };
      data.binary = isBinary;
      if (f.type === 'pings') return onPings(ws, f.pings, isBinary, now);
      if (f.type === 'offer_reply') return onOfferReply(ws, frame as Record<string, unknown>, isBinary, now);
      sendError(ws, 'unknown_type', isBinary, undefined, `unknown frame type "${f.type.slice(0, 40)}"; this endpoint accepts "pings" and "offer_reply"`);
      badFrame(ws, now);
    },

    close(ws, code) {
      const data = ws.getUserData();
      data.closed = true;
      sockets.delete(ws);
      data.detach?.();
      metrics.driverConnections.dec();
      log.info({ driverId: data.driverId, remote: data.remote, code }, 'driver disconnected');
    },
  };
}
