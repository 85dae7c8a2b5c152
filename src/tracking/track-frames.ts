import { HexfleetError } from '../protocol/error-codes.js';
import { requireId } from '../protocol/id-limits.js';
import { type Bbox, parseBbox } from './bbox.js';

/** A client frame of /v1/track, validated. */
export type TrackRequest =
  | { type: 'subscribe' | 'unsubscribe'; orderId: string }
  | { type: 'subscribe_area' | 'unsubscribe_area'; bbox: Bbox };

/**
 * Validates a decoded client frame. Throws `invalid_frame`, `id_too_long`, `unknown_type` or
 * `invalid_bbox`, each with a message that says what was expected.
 */
export function parseTrackRequest(frame: unknown): TrackRequest {
  if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') {
    throw new HexfleetError('invalid_frame');
  }
  const f = frame as { type: string; orderId?: unknown; bbox?: unknown };
  switch (f.type) {
    case 'subscribe':
    case 'unsubscribe':
      return { type: f.type, orderId: requireId('orderId', f.orderId, 'invalid_frame', `${f.type} orderId`) };
    case 'subscribe_area':
    case 'unsubscribe_area':
      return { type: f.type, bbox: parseBbox(f.bbox) };
    default:
      throw new HexfleetError('unknown_type', `unknown frame type "${f.type.slice(0, 40)}"; this endpoint accepts subscribe, unsubscribe, subscribe_area and unsubscribe_area`);
  }
}
