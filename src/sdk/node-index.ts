/**
 * The SDK's Node.js entry (`@hexfleet/sdk` under the `node` condition): the
 * same API as the browser entry (index.ts), with the `ws` package's WebSocket
 * as the default socket class. Node 20 has no global WebSocket, and `ws` takes
 * the `ca` option for wss:// to a gateway a private CA signed; so in Node.js
 * neither needs `options.WebSocket`. The browser entry never imports `ws`.
 */
import WebSocket from 'ws';
import { DriverClient as BaseDriverClient, type DriverClientOptions } from './driver-client.js';
import { TrackingClient as BaseTrackingClient, type TrackingClientOptions } from './tracking-client.js';
import type { WebSocketConstructor } from './web-socket.js';

export * from './index.js';

const NodeWebSocket: WebSocketConstructor = WebSocket;

/** {@link BaseDriverClient}, with `options.WebSocket` defaulting to the `ws` package's class. */
export class DriverClient extends BaseDriverClient {
  constructor(options: DriverClientOptions) {
    super({ ...options, WebSocket: options.WebSocket ?? NodeWebSocket });
  }
}

/** {@link BaseTrackingClient}, with `options.WebSocket` defaulting to the `ws` package's class. */
export class TrackingClient extends BaseTrackingClient {
  constructor(options: TrackingClientOptions) {
    super({ ...options, WebSocket: options.WebSocket ?? NodeWebSocket });
  }
}
