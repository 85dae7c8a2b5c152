import { pack, unpack } from 'msgpackr';
import WebSocket, { type RawData } from 'ws';

/** How a driver app encodes its frames: JSON text frames or msgpack binary frames. */
export type Encoding = 'json' | 'msgpack';

/** A reply from the gateway, decoded; `binary` tells which kind of frame carried it. */
export interface Reply {
  type: string;
  seq?: number;
  code?: string;
  message?: string;
  binary: boolean;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

/** The gateway refused the upgrade: no socket was opened. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
    this.name = 'UpgradeRefused';
  }
}

export interface ConnectOptions {
  /** Sent as `?token=`. */
  queryToken?: string;
  /** Sent as `Authorization: Bearer …`. */
  bearerToken?: string;
  encoding?: Encoding;
}

interface Waiter {
  match: (r: Reply) => boolean;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

/** How long a reply may take on a busy CI machine before a test fails with a message. */
const REPLY_TIMEOUT_MS = 20_000;

/**
 * A real WebSocket client (the `ws` package) speaking the driver protocol.
 * It keeps every reply in arrival order and lets a test wait for the first
 * reply that matches a predicate, event-driven (no polling, no sleeps).
 */
export class DriverClient {
  readonly replies: Reply[] = [];
  /** Socket errors seen (a reset after an abrupt close is expected in some tests). */
  readonly errors: Error[] = [];
  /** Set when the socket closed; replies received after it cannot exist. */
  closeEvent: CloseEvent | undefined;
  /** Resolves with the close code and reason, however the socket ends. */
  readonly closed: Promise<CloseEvent>;
  private waiters: Waiter[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly encoding: Encoding,
  ) {
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.errors.push(err));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`socket closed (${code} ${reason.toString()}) while waiting for ${w.what}; replies: ${JSON.stringify(this.replies)}${this.errorText()}`));
        }
        resolve(this.closeEvent);
      });
    });
  }

  /** Opens a driver socket; rejects with `UpgradeRefused` when the gateway answers the upgrade with an HTTP error. */
  static open(url: string, options: ConnectOptions = {}): Promise<DriverClient> {
    const target = new URL(url);
    if (options.queryToken !== undefined) target.searchParams.set('token', options.queryToken);
    const headers: Record<string, string> = {};
    if (options.bearerToken !== undefined) headers.authorization = `Bearer ${options.bearerToken}`;
    const ws = new WebSocket(target, { headers });
    const client = new DriverClient(ws, options.encoding ?? 'json');
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          req.destroy();
          reject(new UpgradeRefused(res.statusCode ?? 0, body));
        });
      });
      ws.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame in this client's encoding (or the one given). */
  send(frame: unknown, encoding: Encoding = this.encoding): void {
    if (encoding === 'msgpack') this.ws.send(pack(frame), { binary: true });
    else this.ws.send(JSON.stringify(frame), { binary: false });
  }

  /** Sends raw bytes or text, exactly as given (for malformed frames). */
  sendRaw(data: string | Buffer, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** Sends a `pings` frame. */
  sendPings(pings: unknown[], encoding: Encoding = this.encoding): void {
    this.send({ type: 'pings', pings }, encoding);
  }

  /** The first reply (already received or still to come) that matches. */
  waitForReply(match: (r: Reply) => boolean, what = 'a matching reply'): Promise<Reply> {
    const seen = this.replies.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.closeEvent) {
      return Promise.reject(new Error(`socket already closed (${this.closeEvent.code}) before ${what}; replies: ${JSON.stringify(this.replies)}${this.errorText()}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        what,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${REPLY_TIMEOUT_MS} ms waiting for ${what}; replies: ${JSON.stringify(this.replies)}`));
        }, REPLY_TIMEOUT_MS),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for the ack of `seq`. */
  waitForAck(seq: number): Promise<Reply> {
    return this.waitForReply((r) => r.type === 'ack' && r.seq === seq, `ack ${seq}`);
  }

  /** Waits for an error with this code (and seq, when given). */
  waitForError(code: string, seq?: number): Promise<Reply> {
    return this.waitForReply(
      (r) => r.type === 'error' && r.code === code && (seq === undefined || r.seq === seq),
      `error ${code}${seq === undefined ? '' : ` for seq ${seq}`}`,
    );
  }

  /** Closes the socket at once (no close handshake) and waits for it to be gone. */
  async terminate(): Promise<void> {
    if (!this.closeEvent) this.ws.terminate();
    await this.closed;
  }

  private errorText(): string {
    return this.errors.length === 0 ? '' : `; socket errors: ${this.errors.map((e) => e.message).join(', ')}`;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(new Uint8Array(data));
    const decoded = (isBinary ? unpack(buf) : JSON.parse(buf.toString('utf8'))) as Omit<Reply, 'binary'>;
    const reply: Reply = { ...decoded, binary: isBinary };
    this.replies.push(reply);
    for (const w of this.waiters.slice()) {
      if (w.match(reply)) {
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(reply);
      }
    }
  }
}
