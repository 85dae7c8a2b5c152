import type { Logger } from 'pino';
import type { WebSocket } from 'uWebSockets.js';
import type { Authorizer } from '../auth/authorize.js';
import { type Principal, TokenError } from '../auth/tokens.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Config } from '../config/config-schema.js';
import { CloseCodes, HexfleetError } from '../protocol/error-codes.js';
import { encodeReply } from '../protocol/frame-codec.js';
import type { Metrics } from '../runtime/metrics.js';
import { bboxKey } from '../tracking/bbox.js';
import { parseTrackRequest, type TrackRequest } from '../tracking/track-frames.js';
import { type SubscriberLimits, type TrackGrant, TrackSubscriber } from '../tracking/track-subscriber.js';
import type { TrackingHub } from '../tracking/tracking-hub.js';
import type { TrackingMetrics } from '../tracking/tracking-metrics.js';
import { type SocketBase, wsEndpoint, type WsEndpoint } from './ws-endpoint.js';

/** Typed per-socket state, filled from the request in `upgrade`. */
export interface TrackSocketData extends SocketBase {
  /** Who the socket's token speaks for: every frame is authorized against it. */
  principal: Principal;
  grant: TrackGrant;
  subscriber: TrackSubscriber | undefined;
}

type TrackSocket = WebSocket<TrackSocketData>;

export interface TrackEndpointDeps {
  config: Config;
  access: Authorizer;
  hub: TrackingHub;
  metrics: Metrics;
  trackingMetrics: TrackingMetrics;
  log: Logger;
  /** The audit trail: admins' frames, refusals (403, 429), abuse closes and refused upgrades. */
  guard?: AccessGuard;
}

/** Client frames are a few dozen bytes; 4 KiB leaves room for long ids and nothing else. */
const MAX_TRACK_FRAME_BYTES = 4096;

/** The principal of a token that may open /v1/track (RBAC_TABLE), checked for what its role needs. Throws. */
function watcherOf(access: Authorizer, token: string | undefined): Principal {
  const p = access.verify(token, 'WS /v1/track');
  if (p.role === 'customer' && !p.orders) throw new TokenError('unauthorized', 'a customer token needs an orders claim (the order ids it may watch)');
  return p;
}

/**
 * `/v1/track`: customers, tracking links and operators watch orders (and
 * admins areas). Every frame goes to the tracking hub; what a socket is sent
 * is decided by its TrackSubscriber (throttle, backpressure), so a slow
 * subscriber costs the others nothing.
 */
export function trackEndpoint(deps: TrackEndpointDeps): WsEndpoint<TrackSocketData> {
  const { config, access, hub, metrics, trackingMetrics, log } = deps;
  const limits: SubscriberLimits = {
    intervalMs: 1000 / config.trackMaxHz,
    softBytes: config.trackBufferBytes,
    hardBytes: config.maxBackpressureBytes,
  };

  /**
   * Authorizes and runs a validated request; a failure of the request itself
   * (not of the frame: a refusal, a full connection) is answered about its
   * order or box.
   */
  function handle(ws: TrackSocket, req: TrackRequest, now: number): void {
    const { subscriber, principal } = ws.getUserData();
    const sub = subscriber!;
    const about = 'orderId' in req ? { orderId: req.orderId } : { bbox: req.bbox };
    try {
      access.check(principal, `WS /v1/track ${req.type}`, 'orderId' in req ? { orderId: req.orderId } : undefined, now);
      if (principal.role === 'admin') {
        deps.guard?.audit.record({
          action: 'admin.request', outcome: 'success', user: { id: principal.sub, roles: ['admin'] }, sourceIp: ws.getUserData().remote,
          path: '/v1/track', frameType: req.type, ...('orderId' in req ? { orderId: req.orderId } : { details: { bbox: req.bbox } }),
        });
      }
      switch (req.type) {
        case 'subscribe':
          hub.subscribe(sub, req.orderId).catch((err: unknown) => {
            const e = err instanceof HexfleetError ? err : new HexfleetError('internal');
            if (e.code === 'internal') log.error({ err, orderId: req.orderId }, 'tracking subscribe failed');
            if (!ws.getUserData().closed) ws.cork(() => endpoint.reject(ws, e.code, e.message, about));
          });
          return;
        case 'unsubscribe':
          hub.unsubscribe(sub, req.orderId);
          return sub.sendNow({ type: 'unsubscribed', orderId: req.orderId });
        case 'subscribe_area':
          hub.subscribeArea(sub, req.bbox);
          return sub.sendNow({ type: 'area_subscribed', bbox: req.bbox });
        case 'unsubscribe_area':
          hub.unsubscribeArea(sub, bboxKey(req.bbox));
          return sub.sendNow({ type: 'area_unsubscribed', bbox: req.bbox });
      }
    } catch (err) {
      const e = err instanceof HexfleetError ? err : new HexfleetError('internal');
      if (e.code === 'internal') log.error({ err }, 'tracking frame failed');
      endpoint.reject(ws, e.code, e.message, about);
    }
  }

  /** Validates the frame (throwing rejects it as a bad frame), then runs it. */
  const request = (ws: TrackSocket, frame: Record<string, unknown>, now: number): void => handle(ws, parseTrackRequest(frame), now);

  const endpoint = wsEndpoint<TrackSocketData>({
    name: 'track',
    path: '/v1/track',
    idleTimeoutS: config.idleTimeoutS,
    maxPayloadLength: MAX_TRACK_FRAME_BYTES,
    maxBackpressure: config.maxBackpressureBytes,
    badFrameLimit: config.badFrameLimit,
    guard: deps.guard,
    frameRate: { perSec: config.frameRatePerSec, burst: config.frameBurst },
    disconnects: trackingMetrics.disconnects,
    framesRejected: metrics.framesRejected,
    log,
    send: (ws, frame) => ws.getUserData().subscriber?.sendNow(frame),

    authorize(token) {
      const principal = watcherOf(access, token);
      return { principal, grant: { expiresAt: principal.expiresAt }, expiresAt: principal.expiresAt, subscriber: undefined };
    },

    // An auth frame extended the token: the hub's own expiry check (its sweep) follows.
    reauthorized(ws) {
      const data = ws.getUserData();
      data.grant.expiresAt = data.expiresAt;
    },

    frames: { subscribe: request, unsubscribe: request, subscribe_area: request, unsubscribe_area: request },

    opened(ws) {
      const data = ws.getUserData();
      data.subscriber = new TrackSubscriber(data.grant, {
        send: (frame) => {
          if (!data.closed) ws.cork(() => ws.send(encodeReply(frame, data.binary), data.binary));
        },
        bufferedAmount: () => (data.closed ? 0 : ws.getBufferedAmount()),
        close: (code, reason) => {
          if (data.closed) return;
          data.closed = true;
          if (code === CloseCodes.slow_consumer.code) {
            deps.guard?.abuseClosed({ path: '/v1/track', sourceIp: data.remote }, 'slow_consumer', { id: data.principal.sub, roles: [data.principal.role] });
          }
          ws.end(code, reason);
        },
      }, limits, trackingMetrics);
      hub.attach(data.subscriber);
      trackingMetrics.connections.inc();
    },

    gone(ws) {
      const { subscriber } = ws.getUserData();
      if (subscriber) {
        subscriber.closed = true;
        hub.detach(subscriber);
      }
      trackingMetrics.connections.dec();
    },
  });
  return endpoint;
}
