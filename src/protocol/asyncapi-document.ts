import { CloseCodes } from './error-codes.js';
import { DRIVER_CLIENT_FRAMES, DRIVER_SERVER_FRAMES, TRACKING_CLIENT_FRAMES, TRACKING_SERVER_FRAMES } from './frame-schemas.js';
import type { JsonSchema } from './json-schema.js';

/**
 * The AsyncAPI 3.0 description of the gateway's two WebSocket protocols,
 * `/v1/driver` and `/v1/track`, frame by frame: every message is a frame of
 * wire-frames.ts with its schema from frame-schemas.ts; every frame a client
 * sends is an operation the gateway receives, with the frames that answer it
 * as its reply. Operations are from the gateway's side (`receive`: a client
 * sends it; `send`: the gateway pushes it). Served at `GET /asyncapi.json`.
 */

/** Which server frames answer a client frame (the rest are pushed: offers, positions, assignments). */
interface Channel<C extends Record<string, JsonSchema>, S extends Record<string, JsonSchema>> {
  id: string;
  address: string;
  description: string;
  client: C;
  server: S;
  replies: { [K in keyof C]: (keyof S)[] };
  pushed: { name: keyof S; summary: string }[];
}

const DRIVER: Channel<typeof DRIVER_CLIENT_FRAMES, typeof DRIVER_SERVER_FRAMES> = {
  id: 'driver',
  address: '/v1/driver',
  description: "A driver's stream (role driver; the token's sub is the driver id). Pings in, acks and offers out. JSON text frames, or msgpack binary frames of the same shape (answered in kind).",
  client: DRIVER_CLIENT_FRAMES,
  server: DRIVER_SERVER_FRAMES,
  replies: { pings: ['ack', 'error', 'pings_rejected'], offer_reply: ['offer_result', 'error'], auth: ['auth_ok', 'error'] },
  pushed: [{ name: 'offer', summary: 'an order offered to this driver; answer with offer_reply before expiresAt' }],
};

const TRACK: Channel<typeof TRACKING_CLIENT_FRAMES, typeof TRACKING_SERVER_FRAMES> = {
  id: 'track',
  address: '/v1/track',
  description: 'Live tracking (customer, tracker, admin tokens): order subscriptions (the courier\'s positions, the tracking state, saga transitions) and, for admins, area subscriptions (every driver in a box). JSON text or msgpack binary frames.',
  client: TRACKING_CLIENT_FRAMES,
  server: TRACKING_SERVER_FRAMES,
  replies: {
    subscribe: ['status', 'error'], unsubscribe: ['unsubscribed', 'error'], subscribe_area: ['area_subscribed', 'error'],
    unsubscribe_area: ['area_subscribed', 'error'], auth: ['auth_ok', 'error'],
  },
  pushed: [
    { name: 'order_position', summary: 'the courier of a watched order moved' },
    { name: 'status', summary: 'the tracking state of a watched order changed (live, degraded, lost)' },
    { name: 'assignment', summary: 'a saga transition of a watched order' },
    { name: 'area_position', summary: 'a driver inside a watched box moved' },
  ],
};

const closeCodes = Object.entries(CloseCodes).map(([name, c]) => `${c.code} ${name}${c.retry ? ' (reconnect)' : ''}: ${c.reason}`).join('\n');

function channelParts<C extends Record<string, JsonSchema>, S extends Record<string, JsonSchema>>(ch: Channel<C, S>) {
  const messages: Record<string, unknown> = {};
  const ref = (name: string) => ({ $ref: `#/channels/${ch.id}/messages/${name}` });
  for (const [name, payload] of Object.entries(ch.client)) {
    messages[`${name}`] = { name, title: `${name} (client → gateway)`, contentType: 'application/json', payload };
  }
  for (const [name, payload] of Object.entries(ch.server)) {
    // A server frame named like a client frame (none today) would need a prefix; the names stay the frame types where they can.
    if (messages[name] !== undefined) throw new Error(`${ch.id}: message ${name} is both a client and a server frame`);
    messages[name] = { name, title: `${name} (gateway → client)`, contentType: 'application/json', payload };
  }
  const channel = {
    address: ch.address,
    title: ch.address,
    description: `${ch.description}\n\nClose codes:\n${closeCodes}`,
    messages,
    bindings: {
      ws: {
        method: 'GET',
        query: { type: 'object', properties: { token: { type: 'string', description: 'the JWT (or Authorization: Bearer on the upgrade)' } } },
      },
    },
  };
  const operations: Record<string, unknown> = {};
  for (const name of Object.keys(ch.client)) {
    operations[`${ch.id}_${name}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${ch.id}` },
      summary: `a client's ${name} frame`,
      messages: [ref(name)],
      reply: { channel: { $ref: `#/channels/${ch.id}` }, messages: (ch.replies[name as keyof C] as string[]).map(ref) },
    };
  }
  for (const { name, summary } of ch.pushed) {
    operations[`${ch.id}_push_${String(name)}`] = { action: 'send', channel: { $ref: `#/channels/${ch.id}` }, summary, messages: [ref(String(name))] };
  }
  return { channel, operations };
}

/** The AsyncAPI 3.0 document of /v1/driver and /v1/track. */
export function asyncApiDocument(version: string): Record<string, unknown> {
  const driver = channelParts(DRIVER);
  const track = channelParts(TRACK);
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'hexfleet WebSocket protocols',
      version,
      description: 'Frames of /v1/driver and /v1/track (src/protocol/wire-frames.ts). Error frames carry a code of src/protocol/error-codes.ts; who may send which frame: RBAC_TABLE. The HTTP API is described at /openapi.json.',
    },
    defaultContentType: 'application/json',
    channels: { driver: driver.channel, track: track.channel },
    operations: { ...driver.operations, ...track.operations },
  };
}
