import { type BackoffOptions, fullJitter } from './backoff.js';
import type { ChosenRegion, RegionSelector } from './region-selector.js';
import { closePolicy, SdkError } from './sdk-error.js';
import { TypedEmitter } from './typed-emitter.js';
import { decodeFrame, type Encoding, encodeFrame } from './wire-codec.js';
import { type CloseEventLike, type MessageEventLike, openWebSocket, type WebSocketConstructor, type WebSocketLike } from './web-socket.js';

/** `connecting` also covers the wait before the next attempt; `closed` is final. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** A token, or a function that fetches a fresh one (called again when the gateway says it expired). */
export type TokenSource = string | (() => string | Promise<string>);

/** Why the state changed. */
export interface StateInfo {
  /** The gateway URL (without the token) this is about. */
  url?: string;
  /** Close code and reason of the socket that just ended. */
  code?: number;
  reason?: string;
  /** ms until the next attempt, when one is scheduled. */
  retryInMs?: number;
}

/** The client moved to a region (the first choice, or after losing one). */
export interface RegionInfo {
  region: string;
  /** The region it left; absent for the first choice. */
  previous?: string;
  /** This client's round trip to the region's probe, ms (the lowest of `measured`). */
  rttMs: number;
  measured: ChosenRegion['measured'];
}

export interface ReconnectingSocketOptions {
  /** Gateway URLs, in failover order; with `regions`, replaced by the chosen region's. */
  urls: readonly string[];
  /** Regional endpoints: the socket connects to the region this picks, and asks it again when it loses one. */
  regions?: RegionSelector;
  /** Failed connects to a region (after its socket closed, or from the start) that make it lost; at least one per URL of the region. */
  regionAttempts?: number;
  token: TokenSource;
  encoding: Encoding;
  backoff: BackoffOptions;
  connectTimeoutMs: number;
  WebSocket: WebSocketConstructor;
  /** CA certificates (PEM) trusted for wss:// (checked by checkCa); undefined: the platform's. */
  ca?: readonly string[];
}

type SocketEvents = {
  state: (state: ConnectionState, info: StateInfo) => void;
  open: () => void;
  frame: (frame: unknown) => void;
  /** Connected to a region other than before (only with `regions`). */
  region: (info: RegionInfo) => void;
  /** The open socket ended (after `open`); `abnormal` for 1006/1009. */
  down: (code: number, abnormal: boolean) => void;
  error: (err: SdkError) => void;
};

/** Failed connects that make a region lost: one more than a gateway restart usually costs. */
const DEFAULT_REGION_ATTEMPTS = 2;
/** WebSocket.CLOSED. */
const CLOSED = 3;
/** A close handshake with a dead peer never completes; close() does not wait longer than this. */
const CLOSE_WAIT_MS = 2_000;
/** A token expiring within this margin is refreshed before a connect: clocks drift and handshakes take time. */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;
/** An open socket asks the token function for a fresh token this long before exp (at most; a fifth of what is left for short tokens). */
const TOKEN_REFRESH_AHEAD_MS = 60_000;
/** After an auth frame answered unknown_key (the gateway is reading its keys), the same token is sent again this much later. */
const AUTH_RETRY_MS = 2_000;
/** Error codes that answer an auth frame (not a batch or an offer reply). */
const AUTH_ERRORS = new Set(['unauthorized', 'token_revoked', 'unknown_key', 'token_mismatch', 'forbidden']);

/**
 * One logical connection over several gateway URLs: connects to one, and when
 * the socket ends (or cannot open) moves on to the next URL after a
 * full-jitter backoff, until `close()` or a close code the table says not to
 * retry. Tokens go in `?token=` because browsers cannot set headers on a
 * WebSocket.
 *
 *   connecting ──open──▶ open ──socket ends──▶ connecting (next URL, backoff) ─▶ …
 *        └────── close() / non-retryable close code ──────▶ closed
 */
export class ReconnectingSocket extends TypedEmitter<SocketEvents> {
  state: ConnectionState = 'connecting';
  /** The URL of the current (or last) socket. */
  url: string;
  /** The region of the current (or last) socket (only with `regions`). */
  region: string | undefined;
  private urls: readonly string[];
  /** Set when a region must be chosen before the next connect: at start, and after losing one. */
  private needRegion: boolean;
  private regionFailures = 0;
  /** Regions given up since the last open socket: avoided by the next choice while another is healthy. */
  private readonly lostRegions = new Set<string>();
  private ws: WebSocketLike | undefined;
  private urlIndex = 0;
  private attempt = 0;
  private token: string | undefined;
  private forceRefresh = false;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** When to send the open socket a fresh token (`auth` frame). */
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** An auth frame is waiting for its answer: the next auth error frame is about it. */
  private authPending = false;

  constructor(private readonly o: ReconnectingSocketOptions) {
    super();
    this.urls = o.urls;
    this.url = o.urls[0] ?? '';
    this.needRegion = o.regions !== undefined;
  }

  start(): void {
    void this.connect();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Sends a frame in the chosen encoding; false when no socket is open. */
  send(frame: object): boolean {
    if (this.state !== 'open' || !this.ws) return false;
    this.ws.send(encodeFrame(frame, this.o.encoding));
    return true;
  }

  /** The peer answered: the connection works, so the next failure starts the backoff from the bottom. */
  healthy(): void {
    this.attempt = 0;
  }

  /**
   * Gives up on the current socket without waiting for a close handshake (a
   * dead peer never answers one) and reconnects, as if it had closed with `code`.
   */
  abandon(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.detach(ws);
    this.ended(code, reason, this.state === 'open');
  }

  /** Stops for good; resolves once the socket is closed (or after CLOSE_WAIT_MS for a peer that never answers). */
  close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (this.state === 'open') this.emit('down', 1000, false);
    this.setState('closed', { url: this.url });
    if (!ws) return Promise.resolve();
    ws.onopen = ws.onmessage = null;
    ws.onerror = () => {};
    if (ws.readyState === CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      ws.onclose = () => {
        clearTimeout(timer);
        resolve();
      };
      ws.close(1000, 'client closing');
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    if (this.needRegion && !(await this.chooseRegion())) return;
    this.url = this.urls[this.urlIndex % this.urls.length]!;
    this.setState('connecting', { url: this.url });
    let token: string;
    try {
      token = await this.currentToken();
    } catch (err) {
      this.emit('error', new SdkError('token_unavailable', `the token function failed: ${err instanceof Error ? err.message : String(err)}`, { retry: true, cause: err }));
      return this.retryLater({ url: this.url });
    }
    if (this.stopped) return;
    const target = this.url + (this.url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
    let ws: WebSocketLike;
    try {
      ws = openWebSocket(this.o.WebSocket, target, this.o.ca);
    } catch (err) {
      // A malformed URL: no other attempt at it can succeed either, but another URL may.
      this.emit('error', new SdkError('bad_url', `cannot open ${this.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      this.urlIndex++;
      return this.retryLater({ url: this.url });
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    const connectTimer = setTimeout(() => {
      if (!opened && this.ws === ws) {
        this.detach(ws);
        this.ended(1006, 'connect timeout', false);
      }
    }, this.o.connectTimeoutMs);
    ws.onopen = () => {
      opened = true;
      this.regionFailures = 0;
      this.lostRegions.clear();
      clearTimeout(connectTimer);
      this.setState('open', { url: this.url });
      this.authPending = false;
      this.refreshBefore(token);
      this.emit('open');
    };
    ws.onmessage = (ev: MessageEventLike) => {
      let frame: unknown;
      try {
        frame = decodeFrame(ev.data);
      } catch (err) {
        this.emit('error', new SdkError('bad_frame', `the gateway sent a frame that does not decode: ${String(err)}`, { cause: err }));
        return;
      }
      if (this.authAnswer(frame)) return;
      this.emit('frame', frame);
    };
    ws.onerror = (ev: { error?: { code?: unknown; message?: unknown } }) => {
      // Always followed by close, which carries the code. A certificate the client does not trust would
      // otherwise only show as endless 1006 retries: say so (the `ws` package gives the TLS error).
      const code = String(ev?.error?.code ?? '');
      if (!opened && /CERT|SIGNATURE|TLS|SSL|ISSUER/.test(code)) {
        this.emit('error', new SdkError('tls_failed', `TLS to ${this.url} failed: ${String(ev.error?.message ?? code)} (a private CA? pass options.ca)`, { retry: true }));
      }
    };
    ws.onclose = (ev: CloseEventLike) => {
      clearTimeout(connectTimer);
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.ended(ev.code, ev.reason, opened);
    };
  }

  /**
   * With a token function, schedules the in-band refresh of an open socket:
   * shortly before `token` expires, a fresh token goes to the gateway in an
   * `auth` frame, so the socket is not closed with 4401 and nothing
   * reconnects. A failure only costs the refresh: at expiry the gateway
   * closes the socket and the reconnect fetches a token anyway.
   */
  private refreshBefore(token: string): void {
    clearTimeout(this.refreshTimer);
    const source = this.o.token;
    const exp = expOf(token);
    if (typeof source === 'string' || exp === undefined) return;
    const left = exp * 1000 - Date.now();
    this.refreshTimer = setTimeout(() => {
      Promise.resolve()
        .then(() => source())
        .then((fresh) => {
          this.token = fresh;
          this.sendAuth(fresh);
        }, (err: unknown) => {
          this.emit('error', new SdkError('token_unavailable', `the token function failed: ${err instanceof Error ? err.message : String(err)}`, { retry: true, cause: err }));
        });
    }, Math.max(0, left - Math.min(TOKEN_REFRESH_AHEAD_MS, left / 5)));
  }

  private sendAuth(token: string): void {
    if (this.send({ type: 'auth', token })) this.authPending = true;
  }

  /** Consumes the gateway's answer to an auth frame (true), so the client never takes it for a batch's or an offer's. */
  private authAnswer(frame: unknown): boolean {
    const f = frame as { type?: unknown; code?: unknown; message?: unknown; seq?: unknown; orderId?: unknown } | null;
    if (f?.type === 'auth_ok') {
      this.authPending = false;
      if (this.token !== undefined) this.refreshBefore(this.token);
      return true;
    }
    if (!this.authPending || f?.type !== 'error' || typeof f.code !== 'string' || !AUTH_ERRORS.has(f.code) || f.seq !== undefined || f.orderId !== undefined) return false;
    this.authPending = false;
    const retry = f.code === 'unknown_key';
    this.emit('error', new SdkError(f.code, `the gateway refused the fresh token: ${String(f.message ?? f.code)}`, { retry }));
    if (retry) {
      const token = this.token;
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => token !== undefined && this.sendAuth(token), AUTH_RETRY_MS);
    }
    return true;
  }

  private detach(ws: WebSocketLike): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {}; // ws emits 'error' on a socket torn down while connecting
    try {
      ws.close();
    } catch {
      // Already closing.
    }
    if (this.ws === ws) this.ws = undefined;
  }

  private ended(code: number, reason: string, wasOpen: boolean): void {
    clearTimeout(this.refreshTimer);
    if (wasOpen) this.emit('down', code, code === 1006 || code === 1009);
    if (this.stopped) return;
    const policy = closePolicy(code);
    if (!policy.reconnect) {
      this.stopped = true;
      this.setState('closed', { url: this.url, code, reason });
      this.emit('error', new SdkError(policy.name, `the gateway closed the connection with ${code} (${policy.name}); not reconnecting`, { retry: false }));
      return;
    }
    if (policy.refreshToken) this.forceRefresh = true;
    if (this.o.regions && this.region !== undefined) {
      // An open socket that ended: its region is tried again first (a gateway restarting); connects that keep failing lose it.
      if (wasOpen) this.regionFailures = 0;
      else if (++this.regionFailures >= Math.max(this.o.regionAttempts ?? DEFAULT_REGION_ATTEMPTS, this.urls.length)) {
        this.lostRegions.add(this.region);
        this.needRegion = true;
        this.attempt = 0;
      }
    }
    // Every failure moves to the next gateway: the one that just failed is the likeliest to fail again.
    this.urlIndex++;
    this.retryLater({ url: this.url, code, reason });
  }

  /**
   * Asks the selector for a region (avoiding the lost ones) and takes its URLs;
   * false when none could be chosen (an error event, and a retry after the backoff).
   */
  private async chooseRegion(): Promise<boolean> {
    this.setState('connecting', { url: this.url });
    let chosen: ChosenRegion | undefined;
    try {
      chosen = await this.o.regions!.choose(this.lostRegions);
    } catch (err) {
      chosen = undefined;
      this.emit('error', new SdkError('region_unavailable', `choosing a region failed: ${err instanceof Error ? err.message : String(err)}`, { retry: true, cause: err }));
    }
    if (this.stopped) return false;
    if (!chosen) {
      this.emit('error', new SdkError('region_unavailable', 'no regional endpoint answered GET /v1/regions with a healthy region this client can reach; retrying', { retry: true }));
      this.retryLater({ url: this.url });
      return false;
    }
    const previous = this.region;
    this.needRegion = false;
    this.regionFailures = 0;
    this.region = chosen.name;
    this.urls = chosen.urls;
    this.urlIndex = 0;
    if (previous !== chosen.name) {
      this.emit('region', { region: chosen.name, ...(previous === undefined ? {} : { previous }), rttMs: chosen.rttMs, measured: chosen.measured });
    }
    return true;
  }

  private retryLater(info: StateInfo): void {
    if (this.stopped) return;
    const delay = fullJitter(this.attempt++, this.o.backoff);
    this.setState('connecting', { ...info, retryInMs: delay });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private async currentToken(): Promise<string> {
    const source = this.o.token;
    if (typeof source === 'string') return source;
    if (this.token === undefined || this.forceRefresh || expiresSoon(this.token)) {
      this.token = await source();
      this.forceRefresh = false;
    }
    return this.token;
  }

  /** Emits on changes only: a client failing to reach any gateway does not flood listeners. */
  private setState(state: ConnectionState, info: StateInfo): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state, info);
  }
}

/** True when a JWT's `exp` is past or near; false for anything that is not a readable JWT (the server decides). */
function expiresSoon(token: string): boolean {
  const exp = expOf(token);
  return exp !== undefined && exp * 1000 - TOKEN_EXPIRY_MARGIN_MS <= Date.now();
}

/** A JWT's `exp` (seconds), read without verifying; undefined for anything that is not a readable JWT. */
function expOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp : undefined;
  } catch {
    return undefined;
  }
}
