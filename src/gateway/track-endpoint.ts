import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, us_socket_context_t, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { type TokenService, TokenError } from '../auth/tokens.js';
import type { Config } from '../config/config-schema.js';
import { CloseCodes, type ErrorCode, ErrorCodes, HexfleetError } from '../protocol/error-codes.js';
import { decodeFrame, encodeReply } from '../protocol/frame-codec.js';
import { spendBadFrame } from './bad-frame-budget.js';
import { readUpgrade, refuseUpgrade } from './ws-upgrade.js';
import { bboxKey } from '../tracking/bbox.js';
import { parseTrackRequest, type TrackRequest } from '../tracking/track-frames.js';
import { type SubscriberLimits, type TrackGrant, TrackSubscriber } from '../tracking/track-subscriber.js';
import type { TrackingHub } from '../tracking/tracking-hub.js';
import type { TrackingMetrics } from '../tracking/tracking-metrics.js';

/** Typed per-socket state, filled from the request in `upgrade`. */
export interface TrackSocketData {
  grant: TrackGrant;
  remote: string;
  /** Encoding of the client's last frame: pushed frames use it. */
  binary: boolean;
  /** Set in `close`: work that resolves later must not touch the socket. */
  closed: boolean;
  subscriber: TrackSubscriber | undefined;
  badFrames: number;
  badWindowStart: number;
}

type TrackSocket = WebSocket<TrackSocketData>;


export interface TrackingSocketDeps {
  config: Config;
  tokens: TokenService;
  hub: TrackingHub;
  metrics: TrackingMetrics;
  log: Logger;
  /** Open sockets, so shutdown can close them. */
  sockets: Set<TrackSocket>;
}

/** Who may watch what, from a verified token. Throws `TokenError`. */
function grantOf(tokens: TokenService, token: string | undefined): TrackGrant {
  const p = tokens.verify(token, ['customer', 'tracker', 'admin']);
  if (p.role === 'customer') {
    if (!p.orders) throw new TokenError('unauthorized', 'a customer token needs an orders claim (the order ids it may watch)');
    return { role: 'customer', orders: new Set(p.orders), expiresAt: p.expiresAt };
  }
  if (p.role === 'tracker') {
    // Tracker tokens travel in links and URLs: one that never expires is refused.
    if (p.expiresAt === undefined) throw new TokenError('unauthorized', 'a tracker token must expire (exp claim)');
    return { role: 'tracker', orders: new Set([p.sub]), expiresAt: p.expiresAt };
  }
  return { role: 'admin', orders: new Set(), expiresAt: p.expiresAt };
}

/**
 * The `/v1/track` endpoint: customers, tracking links and operators watch
 * orders (and admins areas). The upgrade is decided synchronously (see
 * TokenService.verify); every frame is answered in its own encoding; a bad
 * frame costs its sender an error reply, never another subscriber.
 */
export function trackingSocketBehavior(deps: TrackingSocketDeps): WebSocketBehavior<TrackSocketData> {
  const { config, tokens, hub, metrics, log, sockets } = deps;
  const limits: SubscriberLimits = {
    intervalMs: 1000 / config.trackMaxHz,
    softBytes: config.trackBufferBytes,
    hardBytes: config.maxBackpressureBytes,
  };

  function reply(ws: TrackSocket, frame: { type: string }): void {
    const data = ws.getUserData();
    if (!data.closed) data.subscriber?.sendNow(frame);
  }

  function sendError(ws: TrackSocket, code: ErrorCode, message: string | undefined, about: Record<string, unknown> = {}): void {
    reply(ws, { type: 'error', code, message: message ?? ErrorCodes[code].message, ...about } as { type: string });
  }

  function badFrame(ws: TrackSocket, now: number): void {
    const data = ws.getUserData();
    if (spendBadFrame(data, now, config.badFrameLimit) && !data.closed) {
      data.closed = true;
      metrics.disconnects.inc({ reason: 'protocol_violation' });
      ws.end(CloseCodes.protocol_violation.code, 'protocol_violation');
    }
  }

  function handle(ws: TrackSocket, sub: TrackSubscriber, req: TrackRequest): void {
    switch (req.type) {
      case 'subscribe':
        hub.subscribe(sub, req.orderId).catch((err: unknown) => {
          const code = err instanceof HexfleetError ? err.code : 'internal';
          if (code === 'internal') log.error({ err, orderId: req.orderId }, 'tracking subscribe failed');
          if (!ws.getUserData().closed) ws.cork(() => sendError(ws, code, err instanceof HexfleetError ? err.message : undefined, { orderId: req.orderId }));
        });
        return;
      case 'unsubscribe':
        hub.unsubscribe(sub, req.orderId);
        return reply(ws, { type: 'unsubscribed', orderId: req.orderId } as { type: string });
      case 'subscribe_area':
        hub.subscribeArea(sub, req.bbox);
        return reply(ws, { type: 'area_subscribed', bbox: req.bbox } as { type: string });
      case 'unsubscribe_area':
        hub.unsubscribeArea(sub, bboxKey(req.bbox));
        return reply(ws, { type: 'area_unsubscribed', bbox: req.bbox } as { type: string });
    }
  }

  return {
    idleTimeout: config.idleTimeoutS,
    // Client frames are a few dozen bytes; 4 KiB leaves room for long ids and nothing else.
    maxPayloadLength: 4096,
    maxBackpressure: config.maxBackpressureBytes,
    sendPingsAutomatically: true,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const { token, key, protocol, extensions, remote } = readUpgrade(res, req);
      let grant: TrackGrant;
      try {
        grant = grantOf(tokens, token);
      } catch (err: unknown) {
        refuseUpgrade(res, err, log, '/v1/track');
        return;
      }
      const now = Date.now();
      const data: TrackSocketData = { grant, remote, binary: false, closed: false, subscriber: undefined, badFrames: 0, badWindowStart: now };
      res.upgrade(data, key, protocol, extensions, context);
    },

    open(ws) {
      const data = ws.getUserData();
      sockets.add(ws);
      data.subscriber = new TrackSubscriber(data.grant, {
        send: (frame) => {
          if (!data.closed) ws.cork(() => ws.send(encodeReply(frame, data.binary), data.binary));
        },
        bufferedAmount: () => (data.closed ? 0 : ws.getBufferedAmount()),
        close: (code, reason) => {
          if (data.closed) return;
          data.closed = true;
          ws.end(code, reason);
        },
      }, limits, metrics);
      hub.attach(data.subscriber);
      metrics.connections.inc();
    },

    message(ws, message, isBinary) {
      const data = ws.getUserData();
      const sub = data.subscriber;
      if (data.closed || !sub) return;
      const now = Date.now();
      data.binary = isBinary;
      let req: TrackRequest;
      try {
        req = parseTrackRequest(decodeFrame(message, isBinary));
      } catch (err) {
        const e = err instanceof HexfleetError ? err : new HexfleetError('invalid_frame');
        sendError(ws, e.code, e.message);
        return badFrame(ws, now);
      }
      try {
        handle(ws, sub, req);
      } catch (err) {
        const e = err instanceof HexfleetError ? err : new HexfleetError('internal');
        if (e.code === 'internal') log.error({ err }, 'tracking frame failed');
        sendError(ws, e.code, e.message, 'orderId' in req ? { orderId: req.orderId } : { bbox: req.bbox });
      }
    },

    close(ws) {
      const data = ws.getUserData();
      data.closed = true;
      sockets.delete(ws);
      if (data.subscriber) {
        data.subscriber.closed = true;
        hub.detach(data.subscriber);
      }
      metrics.connections.dec();
    },
  };
}
