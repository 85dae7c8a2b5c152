/**
 * The part of the WHATWG WebSocket that the SDK uses. The browser's
 * `WebSocket`, Node 22's global one and the `ws` package's class all fit.
 * Handler parameters are typed `never` so that each implementation's own
 * event types are accepted; the SDK reads events through the `*Like` shapes.
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket class. Classes that take a second argument fit too: with a
 * `ca` option the SDK passes `{ ca }` the way the `ws` package takes it.
 */
export type WebSocketConstructor = new (url: string, ...rest: never[]) => WebSocketLike;

/** A class that takes the `ws` package's TLS options (Node.js). */
type WithTlsOptions = new (url: string, options: { ca: string[] }) => WebSocketLike;

export interface MessageEventLike {
  data: unknown;
}

export interface CloseEventLike {
  code: number;
  reason: string;
}

/**
 * The CA certificates (PEM) a client trusts for wss://, checked; undefined
 * when none was given (the platform's CA store). A CA needs a WebSocket
 * class passed in options that takes the `ws` package's options: a
 * browser's WebSocket always uses the browser's CA store.
 */
export function checkCa(ca: string | readonly string[] | undefined, given: WebSocketConstructor | undefined): string[] | undefined {
  if (ca === undefined) return undefined;
  const list = typeof ca === 'string' ? [ca] : [...ca];
  if (list.length === 0 || !list.every((p) => typeof p === 'string' && p.includes('-----BEGIN CERTIFICATE-----'))) {
    throw new TypeError('ca must be a PEM certificate (-----BEGIN CERTIFICATE-----) or an array of them');
  }
  if (!given) throw new TypeError('ca needs options.WebSocket, a class that takes the `ws` package\'s TLS options (in Node.js: the `ws` package\'s WebSocket)');
  return list;
}

/** Opens a socket, trusting `ca` for wss:// when given. */
export function openWebSocket(WebSocket: WebSocketConstructor, url: string, ca: readonly string[] | undefined): WebSocketLike {
  return ca ? new (WebSocket as unknown as WithTlsOptions)(url, { ca: [...ca] }) : new WebSocket(url);
}

/** The WebSocket class passed in options, else the platform's global one; throws when there is none. */
export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  throw new TypeError('no WebSocket implementation: pass options.WebSocket (in Node.js < 22, the `ws` package\'s WebSocket class)');
}
