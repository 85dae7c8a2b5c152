import { FramedSocket } from './nearby-http-framed-socket.js';

/**
 * A minimal HTTP/1.1 keep-alive client for one request at a time on one
 * socket: the load generator of bench:nearby-http. It writes a GET as one
 * string and reads the answer by its Content-Length, nothing more (no
 * chunked bodies, no redirects, no pipelining), because what it measures is
 * the server: a general client (undici, autocannon) spends several times
 * more CPU per request, and on a 2-core machine that CPU is taken from the
 * server under test. The report shows this client's CPU per request.
 */

/**
 * Called once per request: `status` 0 with `err` when the socket failed.
 * `body` is valid only until the callback returns (see FramedSocket).
 */
export type OnAnswer = (err: Error | undefined, status: number, body: Buffer) => void;

const HEADER_END = Buffer.from('\r\n\r\n');
/** Header sections longer than this are not an answer from the servers measured here. */
const MAX_HEADER_BYTES = 8192;

export class HttpConnection {
  private socket: FramedSocket | undefined;
  /** Of the answer being framed: its status and where its body starts. */
  private status = 0;
  private bodyStart = 0;

  private constructor(private readonly head: string) {}

  /** Opens a connection to 127.0.0.1:`port`; every request carries `headers` (e.g. authorization). */
  static async open(port: number, headers: Record<string, string>): Promise<HttpConnection> {
    const head = Object.entries({ host: `127.0.0.1:${port}`, ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const conn = new HttpConnection(head);
    conn.socket = await FramedSocket.open(port, (buf) => conn.frameEnd(buf));
    return conn;
  }

  get usable(): boolean {
    return this.socket?.usable ?? false;
  }

  /** Sends `GET path`; `done` gets the answer. One request at a time. */
  get(path: string, done: OnAnswer): void {
    this.socket!.request(`GET ${path} HTTP/1.1\r\n${this.head}\r\n`, (err, frame) =>
      err ? done(err, 0, frame) : done(undefined, this.status, frame.subarray(this.bodyStart)),
    );
  }

  close(): void {
    this.socket?.close();
  }

  private frameEnd(buf: Buffer): number {
    const end = buf.indexOf(HEADER_END);
    if (end < 0) {
      if (buf.length > MAX_HEADER_BYTES) throw new Error('header section too long');
      return -1;
    }
    const header = buf.toString('latin1', 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(header);
    if (!length) throw new Error('answer without content-length');
    // "HTTP/1.1 200 OK": the status is bytes 9–11.
    this.status = Number(header.slice(9, 12));
    this.bodyStart = end + HEADER_END.length;
    const bodyEnd = this.bodyStart + Number(length[1]);
    return buf.length < bodyEnd ? -1 : bodyEnd;
  }
}
