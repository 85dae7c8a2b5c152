import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { HttpRequest, HttpResponse, us_socket_context_t, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { type Principal, TokenError } from '../auth/tokens.js';
import { CloseCodes, type ErrorCode, ErrorCodes, HexfleetError } from '../protocol/error-codes.js';
import { decodeFrame } from '../protocol/frame-codec.js';
import type { AuthOkFrame, ErrorFrame } from '../protocol/wire-frames.js';
import { TokenBucket } from '../runtime/token-bucket.js';
import type { AccessGuard, AuditUser } from '../audit/access-guard.js';
import { type BadFrameCounter, badFramesExpired, badFramesSpent, refuseSpentBudget, spendBadFrame } from './bad-frame-budget.js';
import { PrincipalBudgets } from './principal-budgets.js';
import { auditRefusedUpgrade, refuseCoolingOff } from './upgrade-audit.js';
import { ExpiryWheel } from './expiry-wheel.js';
import { readUpgrade, refuseUpgrade } from './ws-upgrade.js';

/** What the plumbing keeps for every socket; each endpoint's socket data extends it. */
export interface SocketBase {
  remote: string;
  /** Who the socket's token speaks for (replaced by an accepted `auth` frame). */
  principal: Principal;
  /** Token expiry, ms since the epoch: the socket is closed then (4401) unless an `auth` frame extended it. */
  expiresAt: number | undefined;
  /** The principal's frame rate and bad-frame budget, shared by every connection of its token's role and subject. */
  budget: SocketBudget;
  /** Set once the socket is closing: work that resolves later must not touch it. */
  closed: boolean;
  /** Encoding of the client's last frame: replies and pushed frames use it. */
  binary: boolean;
}

/** What a principal may still send: every frame spends a token of `frameRate` (too_many_frames past it); rejected frames count against the bad-frame budget. */
export interface SocketBudget extends BadFrameCounter {
  frameRate: TokenBucket;
}

/** Why the gateway closes a socket (a CloseCodes entry). */
export type CloseReason = 'going_away' | 'protocol_violation' | 'token_expired' | 'token_revoked' | 'slow_consumer';

/**
 * Handles one decoded frame of its type. Throwing a HexfleetError rejects the
 * frame: the client gets an error frame with the code, and the frame counts
 * against the connection's bad-frame budget. Errors found later (a store
 * write, a saga step) are the handler's to answer.
 */
export type FrameHandler<D> = (ws: WebSocket<D>, frame: Record<string, unknown>, now: number) => void;

export interface EndpointDefinition<D extends SocketBase> {
  /** Label in metrics and logs: `driver`, `track`. */
  name: string;
  /** URL path, e.g. `/v1/driver`. */
  path: string;
  idleTimeoutS: number;
  maxPayloadLength: number;
  maxBackpressure: number;
  /** Rejected frames tolerated per minute before the socket is closed with 4400. */
  badFrameLimit: number;
  /** Frames/s a principal may send over all its connections, sustained and in a burst (HEXFLEET_FRAME_RATE_PER_SEC, HEXFLEET_FRAME_BURST). */
  frameRate: { perSec: number; burst: number };
  /**
   * The endpoint's own socket data, from the upgrade's token. Synchronous on
   * purpose: an upgrade completed after an await can be closed by
   * uWebSockets.js right after open. Throws TokenError to refuse (401/403).
   * Also checks the token of an `auth` frame (its result must name the same
   * subject and role; only `principal` and `expiresAt` are taken from it).
   */
  authorize(token: string | undefined, now: number): Omit<D, Exclude<keyof SocketBase, 'expiresAt' | 'principal'>>;
  /** After an accepted `auth` frame replaced the socket's principal and expiry: the endpoint's own copies follow. */
  reauthorized?(ws: WebSocket<D>): void;
  /** Frame types the endpoint accepts; any other type gets `unknown_type`. */
  frames: Record<string, FrameHandler<D>>;
  /** Sends a frame in the socket's encoding, with the endpoint's backpressure policy. */
  send(ws: WebSocket<D>, frame: ErrorFrame | AuthOkFrame): void;
  opened(ws: WebSocket<D>): void;
  /** The socket is gone (closed by either side); `closed` is already set. */
  gone(ws: WebSocket<D>, code: number): void;
  /** Counts a connection the gateway closed. */
  disconnects: Counter<'reason'>;
  /** Counts rejected frames by code (`hexfleet_frames_rejected_total{endpoint,code}`). */
  framesRejected: Counter<'endpoint' | 'code'>;
  /** The audit trail and cool-off list: refused upgrades, 403 and 429 frame rejections and abuse closes are reported to it. */
  guard?: AccessGuard;
  log: Logger;
}

/** One WebSocket endpoint: its uWebSockets.js behaviour and what the gateway needs to shut it down. */
export interface WsEndpoint<D extends SocketBase> {
  behavior: WebSocketBehavior<D>;
  /** Open sockets. */
  readonly sockets: ReadonlySet<WebSocket<D>>;
  /** Sends an error frame about one frame (and, with `about`, the ping, order or box it concerns). */
  reject(ws: WebSocket<D>, code: ErrorCode, message?: string, about?: Partial<ErrorFrame> & Record<string, unknown>): void;
  /** Counts one rejected frame; past the limit the socket is closed with 4400. */
  badFrame(ws: WebSocket<D>, now: number): void;
  /** Closes a socket with the reason's close code (idempotent). */
  end(ws: WebSocket<D>, reason: CloseReason): void;
  /** Closes every open socket whose data `match`es (a revocation), with `reason`; returns how many. */
  closeWhere(match: (data: D) => boolean, reason: CloseReason): number;
  /** Closes every open socket with 1001 (shutdown). */
  closeAll(): void;
}

/** How often expired sockets are looked for: the wheel's resolution, so a socket outlives its token by under a second. */
const EXPIRY_SWEEP_MS = 1000;

/**
 * The socket plumbing both WebSocket endpoints share: authentication on the
 * upgrade (401/403, no socket), decoding (JSON text or msgpack binary),
 * routing by frame type, the bad-frame budget (4400), and the bookkeeping
 * shutdown needs. A bad frame costs its sender an error reply, never another
 * client: every decode and handler failure is caught here.
 *
 * A socket never outlives its token: every socket is filed in an expiry
 * wheel by its token's `exp`, and one sweep per second closes the due ones
 * with 4401 (no timer per socket), whether or not the client sends anything.
 * An `{"type":"auth","token":…}` frame (JSON or msgpack) with a token of the
 * same subject and role extends the socket to the new token's expiry and is
 * answered `{"type":"auth_ok","expiresAt"}`; another identity is refused with
 * `token_mismatch`, an invalid token with its token code (the socket keeps
 * its old token until that expires).
 */
export function wsEndpoint<D extends SocketBase>(def: EndpointDefinition<D>): WsEndpoint<D> {
  const sockets = new Set<WebSocket<D>>();
  const { log } = def;
  // Per principal, not per socket: closing an abuser must not hand its reconnect a fresh budget.
  const budgets = new PrincipalBudgets<SocketBudget>(
    (now) => ({ badFrames: 0, badWindowStart: now, frameRate: new TokenBucket(def.frameRate.perSec, def.frameRate.burst, now) }),
    (b, now) => badFramesExpired(b, now) && b.frameRate.isFull(now),
  );
  const wheel = new ExpiryWheel<WebSocket<D>>(Date.now());
  const sweeper = setInterval(() => {
    for (const ws of wheel.sweep(Date.now())) end(ws, 'token_expired');
  }, EXPIRY_SWEEP_MS);
  sweeper.unref();

  /** `{"type":"auth","token"}`: the same identity with a fresh token extends the socket. */
  function reauth(ws: WebSocket<D>, frame: Record<string, unknown>, now: number): void {
    if (typeof frame.token !== 'string') throw new HexfleetError('invalid_frame', 'an auth frame needs a token string');
    const data = ws.getUserData();
    let fresh: { principal: Principal; expiresAt: number | undefined };
    try {
      fresh = def.authorize(frame.token, now);
    } catch (err) {
      if (err instanceof TokenError) throw new HexfleetError(err.code, err.message);
      throw err;
    }
    const was = data.principal;
    if (fresh.principal.sub !== was.sub || fresh.principal.role !== was.role) {
      throw new HexfleetError('token_mismatch', `an auth frame must carry a token for ${was.role} ${was.sub.slice(0, 128)}; reconnect to change identity`);
    }
    if (data.expiresAt !== undefined) wheel.remove(ws, data.expiresAt);
    data.principal = fresh.principal;
    data.expiresAt = fresh.expiresAt;
    if (data.expiresAt !== undefined) wheel.add(ws, data.expiresAt);
    def.reauthorized?.(ws);
    def.send(ws, { type: 'auth_ok', expiresAt: fresh.principal.expiresAt });
  }

  function end(ws: WebSocket<D>, reason: CloseReason): void {
    const data = ws.getUserData();
    if (data.closed) return;
    data.closed = true;
    if (reason !== 'going_away') def.disconnects.inc({ reason });
    if (reason === 'protocol_violation' || reason === 'slow_consumer') def.guard?.abuseClosed({ path: def.path, sourceIp: data.remote }, reason, userOf(data));
    ws.end(CloseCodes[reason].code, reason);
  }

  /** Who a socket's audit entries name: its token's subject and role. */
  const userOf = (data: D): AuditUser => ({ id: data.principal.sub, roles: [data.principal.role] });

  /** A frame refused by a token check (401), a limit (429) or a permission (403) goes to the audit trail; rate limits once per socket every 10 s. */
  function auditRejection(ws: WebSocket<D>, code: ErrorCode, message: string | undefined, about: Record<string, unknown>): void {
    const status = ErrorCodes[code].http;
    if (status !== 429 && status !== 403 && status !== 401) return;
    const data = ws.getUserData();
    const at = { path: def.path, sourceIp: data.remote };
    const user = userOf(data);
    // A refused `auth` frame: an authentication like an upgrade's (counted towards a burst), by who the socket already is.
    if (status === 401) return def.guard!.authFailed({ ...at, frameType: 'auth' }, { code, message: message ?? ErrorCodes[code].message }, undefined, undefined, user);
    if (status === 429) def.guard!.limited(at, code, user, `${def.name} ${data.remote} ${user?.id ?? ''}`);
    else def.guard!.denied(at, code, user, typeof about.orderId === 'string' ? { orderId: about.orderId } : {});
  }

  function reject(ws: WebSocket<D>, code: ErrorCode, message?: string, about: Record<string, unknown> = {}): void {
    def.framesRejected.inc({ endpoint: def.name, code });
    if (def.guard) auditRejection(ws, code, message, about);
    if (ws.getUserData().closed) return;
    def.send(ws, { type: 'error', code, message: message ?? ErrorCodes[code].message, ...about });
  }

  function badFrame(ws: WebSocket<D>, now: number): void {
    const data = ws.getUserData();
    if (spendBadFrame(data.budget, now, def.badFrameLimit) && !data.closed) {
      log.warn({ endpoint: def.name, remote: data.remote }, 'closing connection: too many malformed frames');
      end(ws, 'protocol_violation');
    }
  }

  const accepted = [...Object.keys(def.frames), 'auth'].map((t) => `"${t}"`).join(', ');

  const behavior: WebSocketBehavior<D> = {
    idleTimeout: def.idleTimeoutS,
    maxPayloadLength: def.maxPayloadLength,
    maxBackpressure: def.maxBackpressure,
    sendPingsAutomatically: true,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const { token, key, protocol, extensions, remote: peer } = readUpgrade(res, req);
      // Behind a trusted proxy (HEXFLEET_TRUSTED_PROXIES) the client is the one its X-Forwarded-For names.
      const remote = def.guard?.trustsProxies ? def.guard.sourceOf(peer, req.getHeader('x-forwarded-for')) : peer;
      const now = Date.now();
      if (def.guard && refuseCoolingOff(res, def.guard, remote, now)) return;
      let data: D;
      try {
        const authorized = def.authorize(token, now);
        const budget = budgets.of(`${authorized.principal.role}:${authorized.principal.sub}`, now);
        data = { ...authorized, remote, budget, closed: false, binary: false } as D;
      } catch (err: unknown) {
        if (def.guard) auditRefusedUpgrade(def.guard, err, token, remote, def.path);
        refuseUpgrade(res, err, log, def.path);
        return;
      }
      if (badFramesSpent(data.budget, now, def.badFrameLimit)) return refuseSpentBudget(res, data.budget, now);
      res.upgrade(data, key, protocol, extensions, context);
    },

    open(ws) {
      sockets.add(ws);
      const { expiresAt } = ws.getUserData();
      if (expiresAt !== undefined) wheel.add(ws, expiresAt);
      def.opened(ws);
    },

    message(ws, message, isBinary) {
      const data = ws.getUserData();
      if (data.closed) return;
      const now = Date.now();
      if (data.expiresAt !== undefined && now >= data.expiresAt) return end(ws, 'token_expired');
      data.binary = isBinary;
      if (data.budget.frameRate.take(1, now) === 0) {
        // Dropped undecoded: a flood costs one bucket check per frame, and a reply per frame only until the budget closes it.
        reject(ws, 'too_many_frames');
        return badFrame(ws, now);
      }
      let frame: unknown;
      try {
        frame = decodeFrame(message, isBinary);
      } catch (err) {
        reject(ws, (err as HexfleetError).code, (err as Error).message);
        return badFrame(ws, now);
      }
      const type = (frame as { type?: unknown } | null)?.type;
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || typeof type !== 'string') {
        reject(ws, 'invalid_frame');
        return badFrame(ws, now);
      }
      const handler = type === 'auth' ? reauth : Object.hasOwn(def.frames, type) ? def.frames[type] : undefined;
      if (!handler) {
        reject(ws, 'unknown_type', `unknown frame type "${type.slice(0, 40)}"; this endpoint accepts ${accepted}`);
        return badFrame(ws, now);
      }
      try {
        handler(ws, frame as Record<string, unknown>, now);
      } catch (err) {
        const e = err instanceof HexfleetError ? err : new HexfleetError('internal');
        if (e.code === 'internal') log.error({ err, endpoint: def.name, type }, 'frame handler failed');
        reject(ws, e.code, e.message);
        badFrame(ws, now);
      }
    },

    close(ws, code) {
      const data = ws.getUserData();
      data.closed = true;
      sockets.delete(ws);
      if (data.expiresAt !== undefined) wheel.remove(ws, data.expiresAt);
      def.gone(ws, code);
    },
  };

  return {
    behavior,
    sockets,
    reject,
    badFrame,
    end,
    closeWhere(match, reason) {
      let n = 0;
      for (const ws of sockets) {
        const data = ws.getUserData();
        if (!data.closed && match(data)) {
          end(ws, reason);
          n++;
        }
      }
      return n;
    },
    closeAll() {
      clearInterval(sweeper);
      for (const ws of sockets) end(ws, 'going_away');
    },
  };
}
