import { FramedSocket } from './nearby-http-framed-socket.js';

/**
 * A minimal RESP2 client for one command at a time on one socket: the
 * Tile38 and GEOSEARCH half of bench:nearby-http's load generator, built
 * like its HTTP client (nearby-http-client.ts) so that every side's answers
 * cost the load generator about the same: it frames the reply without
 * building it (ioredis turns every element into a JS string or array, which
 * on a 2-core machine takes CPU from the server under test). The caller
 * reads what it needs from the raw reply with {@link arrayLength}.
 */

/** Called once per command: `reply` is the whole raw reply, valid only until the callback returns; `err` when the socket failed. */
export type OnReply = (err: Error | undefined, reply: Buffer) => void;

const CR = 13;

export class RespConnection {
  private constructor(private readonly socket: FramedSocket) {}

  static async open(port: number): Promise<RespConnection> {
    return new RespConnection(await FramedSocket.open(port, (buf) => replyEnd(buf, 0)));
  }

  get usable(): boolean {
    return this.socket.usable;
  }

  /** Sends one command (ASCII arguments); `done` gets the raw reply. One command at a time. */
  send(args: readonly string[], done: OnReply): void {
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${a.length}\r\n${a}\r\n`;
    this.socket.request(out, done);
  }

  close(): void {
    this.socket.close();
  }
}

/** Index just past the line that starts at `at` (its \r\n), or -1 when it has not all arrived. */
function lineEnd(buf: Buffer, at: number): number {
  const cr = buf.indexOf(CR, at);
  return cr < 0 || cr + 1 >= buf.length ? -1 : cr + 2;
}

/** The integer of a `*n`, `$n` or `:n` line starting at `at`. */
function lineInt(buf: Buffer, at: number): number {
  let n = 0;
  let i = at + 1;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  for (; buf[i] !== CR; i++) n = n * 10 + (buf[i]! - 48);
  return negative ? -n : n;
}

/** Index just past the reply that starts at `at`, or -1 when it has not all arrived. */
export function replyEnd(buf: Buffer, at: number): number {
  if (at >= buf.length) return -1;
  const line = lineEnd(buf, at);
  if (line < 0) return -1;
  const type = buf[at];
  if (type === 0x24 /* $ */) {
    const len = lineInt(buf, at);
    if (len < 0) return line;
    return line + len + 2 <= buf.length ? line + len + 2 : -1;
  }
  if (type === 0x2a /* * */) {
    let next = line;
    for (let n = lineInt(buf, at); n > 0; n--) {
      next = replyEnd(buf, next);
      if (next < 0) return -1;
    }
    return next;
  }
  return line; // + - : one line
}

/** An error reply's text ("ERR …"), or undefined when the reply is not an error. */
export function errorText(reply: Buffer): string | undefined {
  return reply[0] === 0x2d ? reply.toString('latin1', 1, reply.indexOf(CR)) : undefined;
}

/**
 * The length of the array at position `path` of a reply: [] the reply
 * itself, [1] its second element (Tile38's NEARBY answers [cursor, items]).
 * NaN when that is not an array.
 */
export function arrayLength(reply: Buffer, path: readonly number[]): number {
  let at = 0;
  for (const index of path) {
    if (reply[at] !== 0x2a) return NaN;
    at = lineEnd(reply, at);
    for (let k = 0; k < index; k++) at = replyEnd(reply, at);
  }
  return reply[at] === 0x2a ? lineInt(reply, at) : NaN;
}
