import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { API_VERSION } from '../../src/http/openapi-document.js';
import { asyncApiDocument } from '../../src/protocol/asyncapi-document.js';

/**
 * Holds the frames a gateway sends on its sockets to the AsyncAPI document it
 * serves (src/protocol/asyncapi-document.ts): every frame the tests' raw
 * WebSocket client (raw-driver-client.ts) receives on `/v1/driver` or
 * `/v1/track` must be one of the gateway → client messages of that channel.
 */

type Direction = 'client' | 'gateway';
interface Operation {
  action: 'send' | 'receive';
  channel: { $ref: string };
  messages: { $ref: string }[];
  reply?: { messages: { $ref: string }[] };
}
interface Doc {
  channels: Record<string, { address: string; messages: Record<string, { payload: object }> }>;
  operations: Record<string, Operation>;
}

const doc = asyncApiDocument(API_VERSION) as unknown as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
const cache = new Map<string, Map<string, ValidateFunction>>();

/** The channel id of a socket path (`/v1/driver` → `driver`), or undefined for a path the document does not describe. */
export function channelAt(path: string): string | undefined {
  return Object.entries(doc.channels).find(([, c]) => c.address === path)?.[0];
}

/**
 * The messages of `channel` in one direction, by name, with their payload
 * validators: a client sends what the gateway receives (and the gateway
 * answers with the operation's reply messages, and pushes what it sends).
 */
export function messagesOf(channel: string, direction: Direction): Map<string, ValidateFunction> {
  const key = `${channel} ${direction}`;
  let out = cache.get(key);
  if (out) return out;
  out = new Map();
  const names = (refs: { $ref: string }[]) => refs.map((r) => r.$ref.split('/').pop()!);
  for (const op of Object.values(doc.operations)) {
    if (op.channel.$ref !== `#/channels/${channel}`) continue;
    const these = op.action === 'receive' ? (direction === 'client' ? names(op.messages) : names(op.reply?.messages ?? [])) : direction === 'gateway' ? names(op.messages) : [];
    for (const name of these) if (!out.has(name)) out.set(name, ajv.compile(doc.channels[channel]!.messages[name]!.payload));
  }
  cache.set(key, out);
  return out;
}

/**
 * The names of the messages `frame` (decoded, as sent) is valid for on
 * `channel` in `direction`; throws naming the frame and why each message
 * refuses it when there is none.
 */
export function checkFrame(channel: string, direction: Direction, frame: unknown): string[] {
  const messages = messagesOf(channel, direction);
  const matched = [...messages].filter(([, validate]) => validate(frame)).map(([name]) => name);
  if (matched.length > 0) return matched;
  const why = [...messages].map(([name, v]) => (v(frame), `${name}: ${ajv.errorsText(v.errors)}`)).join('; ');
  throw new Error(`${channel} ${direction} frame ${JSON.stringify(frame)?.slice(0, 300)} matches no message of /asyncapi.json (${why})`);
}
