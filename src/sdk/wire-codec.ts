import { Packr } from 'msgpackr';

/** How frames travel: msgpack binary frames or JSON text frames. */
export type Encoding = 'msgpack' | 'json';

// Plain maps, no records extension: what the gateway (and any msgpack peer) reads.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const utf8 = new TextDecoder();

/** Encodes a frame for `WebSocket.send`. */
export function encodeFrame(frame: object, encoding: Encoding): string | Uint8Array {
  return encoding === 'msgpack' ? packr.pack(frame) : JSON.stringify(frame);
}

/**
 * Decodes `MessageEvent.data`: a string is a JSON text frame; binary data
 * (ArrayBuffer, or a Uint8Array such as a Node Buffer) is msgpack. Throws on
 * garbage; the caller reports it.
 */
export function decodeFrame(data: unknown): unknown {
  if (typeof data === 'string') return JSON.parse(data);
  if (data instanceof ArrayBuffer) return packr.unpack(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return packr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (Array.isArray(data) && data.every((d) => ArrayBuffer.isView(d))) {
    // ws with binaryType "fragments".
    const parts = data as ArrayBufferView[];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
      at += p.byteLength;
    }
    return packr.unpack(out);
  }
  return JSON.parse(utf8.decode(data as ArrayBuffer));
}
