import { Packr } from 'msgpackr';
import { HexfleetError } from './error-codes.js';

// Plain maps and no records extension: what any msgpack client can read.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * Decodes one WebSocket frame: binary frames are msgpack, text frames JSON,
 * with the same shape. Throws `malformed_frame`. The message buffer belongs to
 * uWebSockets.js and is freed when the handler returns, so the frame is fully
 * decoded here, synchronously, and nothing keeps a view of it.
 */
export function decodeFrame(message: ArrayBuffer, isBinary: boolean): unknown {
  try {
    if (isBinary) return packr.unpack(new Uint8Array(message));
    return JSON.parse(Buffer.from(message).toString('utf8'));
  } catch (err) {
    throw new HexfleetError('malformed_frame', isBinary ? 'binary frame is not valid msgpack' : 'text frame is not valid JSON', { cause: err });
  }
}

/** Encodes a reply in the encoding of the frame it answers. */
export function encodeReply(reply: object, binary: boolean): Uint8Array | string {
  return binary ? packr.pack(reply) : JSON.stringify(reply);
}

export { packr as framePackr };
