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

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface MessageEventLike {
  data: unknown;
}

export interface CloseEventLike {
  code: number;
  reason: string;
}

/** The WebSocket class passed in options, else the platform's global one; throws when there is none. */
export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  throw new TypeError('no WebSocket implementation: pass options.WebSocket (in Node.js < 22, the `ws` package\'s WebSocket class)');
}
