import type { Logger } from 'pino';
import type { WebSocket } from 'uWebSockets.js';
import type { Authorizer } from '../auth/authorize.js';
import { type Principal, TokenError } from '../auth/tokens.js';
import type { AccessGuard } from '../audit/access-guard.js';
import type { Config } from '../config/config-schema.js';
import { isValidId } from '../domain/ids.js';
import type { VehicleType } from '../domain/vehicle.js';
import type { PingIntake } from '../ingest/ping-intake.js';
import type { DriverChannel } from '../orders/driver-channel.js';
import type { OrderSaga } from '../orders/order-saga.js';
import { detailOf, HexfleetError } from '../protocol/error-codes.js';
import { requireId } from '../protocol/id-limits.js';
import { encodeReply } from '../protocol/frame-codec.js';
import type { DriverServerFrame } from '../protocol/wire-frames.js';
import type { Metrics } from '../runtime/metrics.js';
import { TokenBucket } from '../runtime/token-bucket.js';
import { PrincipalBudgets } from './principal-budgets.js';
import { type SocketBase, wsEndpoint, type WsEndpoint } from './ws-endpoint.js';

/** Typed per-socket state, filled from the request in `upgrade` (uWS frees the request after it). */
export interface DriverSocketData extends SocketBase {
  /** Who the socket's token speaks for: every frame is authorized against it. */
  principal: Principal;
  /** The token's sub: the stream is this driver's. */
  driverId: string;
  vehicle: VehicleType | undefined;
  /** Pings/s allowance of the driver, shared by all its connections (a reconnect does not refill it). */
  rate: TokenBucket;
  /** Stops offer delivery to this socket. */
  detach: (() => void) | undefined;
}

type DriverSocket = WebSocket<DriverSocketData>;

export interface DriverEndpointDeps {
  config: Config;
  access: Authorizer;
  /** The audit trail: offer replies (with the driver), refused upgrades, limits and abuse closes. */
  guard?: AccessGuard;
  /** Pings go to ingest. */
  intake: PingIntake;
  /** Offers come from the channel; offer replies go to the saga. */
  saga: OrderSaga;
  channel: DriverChannel;
  metrics: Metrics;
  log: Logger;
  /** Regions: claims the driver for this region when it connects (or moves it here when its home is unreachable). */
  ownership?: { onConnect(driverId: string): Promise<unknown>; onDisconnect(driverId: string): void };
}

/**
 * `/v1/driver`: a driver's stream. `pings` frames go to ingest (acked once
 * stored), `offer_reply` frames to the order saga; offers reach the socket
 * through the driver channel, from whichever gateway made them.
 */
export function driverEndpoint(deps: DriverEndpointDeps): WsEndpoint<DriverSocketData> {
  const { config, access, intake, saga, channel, metrics, log } = deps;

  function send(ws: DriverSocket, frame: DriverServerFrame): void {
    const data = ws.getUserData();
    if (data.closed) return;
    if (ws.getBufferedAmount() > config.maxBackpressureBytes) {
      // The app does not read its acks; holding more for it would hurt everyone.
      endpoint.end(ws, 'slow_consumer');
      return;
    }
    ws.send(encodeReply(frame, data.binary), data.binary);
  }

  /** Replies that resolve after an await: corked, and dropped once the socket closed. */
  function later(ws: DriverSocket, frame: DriverServerFrame): void {
    if (!ws.getUserData().closed) ws.cork(() => send(ws, frame));
  }

  const pingRates = new PrincipalBudgets((now) => new TokenBucket(config.ratePingsPerSec, config.rateBurst, now), (b, now) => b.isFull(now));

  const endpoint = wsEndpoint<DriverSocketData>({
    name: 'driver',
    path: '/v1/driver',
    idleTimeoutS: config.idleTimeoutS,
    maxPayloadLength: config.maxFrameBytes,
    maxBackpressure: config.maxBackpressureBytes,
    badFrameLimit: config.badFrameLimit,
    guard: deps.guard,
    frameRate: { perSec: config.frameRatePerSec, burst: config.frameBurst },
    disconnects: metrics.connectionsClosed,
    framesRejected: metrics.framesRejected,
    log,
    send,

    authorize(token, now) {
      const principal = access.verify(token, 'WS /v1/driver', (p) => ({ driverId: p.sub }));
      if (!isValidId(principal.sub)) throw new TokenError('unauthorized', 'the token subject is not a usable driver id');
      return {
        principal,
        driverId: principal.sub,
        vehicle: principal.vehicle,
        expiresAt: principal.expiresAt,
        rate: pingRates.of(principal.sub, now),
        detach: undefined,
      };
    },

    frames: {
      pings(ws, frame, now) {
        const data = ws.getUserData();
        access.check(data.principal, 'WS /v1/driver pings', { driverId: data.driverId }, now);
        const usable = intake.take(ws.getUserData(), frame.pings, now, {
          now: (f) => {
            // A frame over the connection's ping rate: audited once per connection every 10 s (AccessGuard.limited).
            if (deps.guard && (f.code === 'rate_limited' || (f as { counts?: Record<string, number> }).counts?.rate_limited)) {
              const { remote, driverId } = ws.getUserData();
              deps.guard.limited({ path: '/v1/driver', sourceIp: remote, frameType: 'pings' }, 'rate_limited', { id: driverId, roles: ['driver'] }, `driver ${remote} ${driverId}`);
            }
            send(ws, f);
          },
          later: (f) => later(ws, f),
        });
        if (!usable) endpoint.badFrame(ws, now);
      },

      /** `{"type":"offer_reply","orderId","accept"}` → `{"type":"offer_result","orderId","state"}` or an error with orderId. */
      offer_reply(ws, f, now) {
        const orderId = requireId('orderId', f.orderId, 'invalid_frame', 'offer_reply orderId');
        if (typeof f.accept !== 'boolean') throw new HexfleetError('invalid_frame', 'offer_reply needs a boolean accept');
        const { driverId, principal } = ws.getUserData();
        // The scope's other half is the saga's: a reply about an order not offered to this driver is not_offered.
        access.check(principal, 'WS /v1/driver offer_reply', { driverId }, now);
        const { remote } = ws.getUserData();
        const audited = (outcome: 'success' | 'failure', reason?: string): void => deps.guard?.audit.record({
          action: f.accept ? 'offer.accept' : 'offer.decline', outcome, ...(reason ? { reason } : {}),
          user: { id: driverId, roles: ['driver'] }, sourceIp: remote, path: '/v1/driver', frameType: 'offer_reply', orderId,
        });
        saga.reply(orderId, driverId, f.accept, now).then(
          (doc) => {
            audited('success');
            later(ws, { type: 'offer_result', orderId, state: doc.state === 'accepted' ? 'accepted' : 'rejected' });
          },
          (err: unknown) => {
            const e = err instanceof HexfleetError ? err : new HexfleetError('internal');
            audited('failure', e.code);
            if (e.code === 'internal') log.error({ err, orderId, driverId }, 'offer reply failed');
            if (!ws.getUserData().closed) ws.cork(() => endpoint.reject(ws, e.code, e.message, { orderId }));
            // A reply about an order never offered to this driver is a bad frame: probing or flooding order ids costs the budget.
            if (e.code === 'not_offered') endpoint.badFrame(ws, Date.now());
          },
        );
      },
    },

    opened(ws) {
      metrics.driverConnections.inc();
      const data = ws.getUserData();
      data.detach = channel.attach(data.driverId, (frame) => later(ws, frame));
      log.info({ driverId: data.driverId, remote: data.remote }, 'driver connected');
      // Not awaited: pings are served meanwhile; until the claim lands this region only refuses to reserve the driver.
      deps.ownership?.onConnect(data.driverId).catch((err: unknown) => {
        log.error({ driverId: data.driverId, err: detailOf(err) }, 'driver ownership not claimed; this region will not offer it orders until it reconnects');
      });
    },

    gone(ws, code) {
      const data = ws.getUserData();
      data.detach?.();
      deps.ownership?.onDisconnect(data.driverId);
      metrics.driverConnections.dec();
      log.info({ driverId: data.driverId, remote: data.remote, code }, 'driver disconnected');
    },
  });
  return endpoint;
}
