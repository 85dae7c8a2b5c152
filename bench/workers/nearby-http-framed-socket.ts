import { connect, type Socket } from 'node:net';

/**
 * One TCP connection to 127.0.0.1 with one request in flight, whose answer
 * ends where `frameEnd` says: the socket under bench:nearby-http's HTTP and
 * RESP clients. It reads into one buffer of its own (`onread`), so a read
 * costs neither a Buffer allocation nor a trip through the stream
 * machinery: measured here, that halves the client's user CPU per request
 * (from ~20 to ~10 µs) and leaves the cores to the servers under test.
 *
 * The answer handed to `done` may be a view of that reused buffer: it is
 * valid only until `done` returns (copy what you keep).
 */

/** Called once per request: `err` when the socket failed. */
export type OnFrame = (err: Error | undefined, frame: Buffer) => void;

/** Bytes read per read call; a nearby answer (1.7 kB) fits many times over. */
const READ_BUFFER_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class FramedSocket {
  private partial: Buffer | undefined;
  private waiting: OnFrame | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    /** Index just past the frame that starts at 0, or -1 when it has not all arrived; throws on a malformed one. */
    private readonly frameEnd: (buf: Buffer) => number,
  ) {
    socket.setNoDelay(true);
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  static open(port: number, frameEnd: (buf: Buffer) => number): Promise<FramedSocket> {
    return new Promise((resolve, reject) => {
      let framed: FramedSocket | undefined;
      const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
      const socket = connect({
        port,
        host: '127.0.0.1',
        onread: {
          buffer: readBuffer,
          callback: (n) => {
            framed?.onRead(readBuffer.subarray(0, n));
            return true; // keep reading
          },
        },
      });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        framed = new FramedSocket(socket, frameEnd);
        resolve(framed);
      });
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  /** Writes one request (latin1); `done` gets the answer's frame. One request at a time. */
  request(text: string, done: OnFrame): void {
    if (this.waiting) throw new Error('FramedSocket: a request is already in flight');
    if (this.closed) return done(new Error('connection closed'), EMPTY);
    this.waiting = done;
    this.socket.write(text, 'latin1');
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onRead(chunk: Buffer): void {
    // The chunk is a view of the read buffer, overwritten by the next read: a partial answer is copied.
    const buf = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    let end: number;
    try {
      end = this.frameEnd(buf);
    } catch (err) {
      return this.fail(err as Error);
    }
    if (end < 0) {
      this.partial = Buffer.from(buf);
      return;
    }
    if (end !== buf.length) return this.fail(new Error('bytes after the answer (nothing else was asked)'));
    this.partial = undefined;
    const done = this.waiting;
    this.waiting = undefined;
    done?.(undefined, buf);
  }

  private fail(err: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    const done = this.waiting;
    this.waiting = undefined;
    this.partial = undefined;
    done?.(err, EMPTY);
  }
}
