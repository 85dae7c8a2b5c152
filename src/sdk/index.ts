/**
 * hexfleet client SDK, the browser entry of `@hexfleet/sdk` (packages/sdk):
 * runs in browsers and Node.js (pass the `ws` package's WebSocket class as
 * `options.WebSocket` where there is no global one; node-index.ts, the
 * Node.js entry, does). Imports no Node.js module.
 */
export { DriverClient, type DriverClientEvents, type DriverClientOptions, type PingInput } from './driver-client.js';
export { TrackingClient, type TrackingClientEvents, type TrackingClientOptions } from './tracking-client.js';
export type { ConnectionState, RegionInfo, StateInfo, TokenSource } from './reconnecting-socket.js';
export type { EndpointOptions } from './endpoint-options.js';
export type { RegionEntry, RegionLoad, RegionsAnswer } from '../protocol/regions-answer.js';
export { SdkError } from './sdk-error.js';
export type { BackoffOptions } from './backoff.js';
export type { Encoding } from './wire-codec.js';
export type { WebSocketConstructor, WebSocketLike } from './web-socket.js';
export type * from '../protocol/wire-frames.js';
