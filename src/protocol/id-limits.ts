import { ID_MAX_LENGTH, isValidId } from '../domain/ids.js';
import { type ErrorCode, HexfleetError } from './error-codes.js';

/**
 * The one table of length limits on ids a client sends, in any frame, path,
 * header or body. Every id is checked against it before any store lookup,
 * and no error message quotes more of an id than its limit (ids that fail
 * are not quoted at all). All kinds share domain/ids.ts's character rule
 * (printable ASCII, no spaces): they become Redis hash fields, keys and log
 * fields. The id limits table of docs/security.md (Abuse limits) is this one.
 */
export const ID_LIMITS = {
  driverId: { maxLength: ID_MAX_LENGTH, where: 'driver token `sub`; GET /v1/drivers/:id' },
  orderId: { maxLength: ID_MAX_LENGTH, where: 'offer_reply and /v1/track frames; POST /v1/match body; /v1/orders/:id/… paths' },
  idempotencyKey: { maxLength: ID_MAX_LENGTH, where: 'Idempotency-Key header of POST /v1/match' },
} as const satisfies Record<string, { maxLength: number; where: string }>;

export type IdKind = keyof typeof ID_LIMITS;

/** How an id of `kind` is named in messages. */
const LABEL: Record<IdKind, string> = { driverId: 'driver id', orderId: 'orderId', idempotencyKey: 'Idempotency-Key' };

/**
 * Returns `value` when it is a usable id of `kind`. Otherwise throws
 * `id_too_long` for a string over the limit, or `code` (the caller's code for
 * a malformed field: invalid_frame, invalid_body, invalid_parameter) for
 * anything else; the message names the field and the rule, never the value.
 */
export function requireId(kind: IdKind, value: unknown, code: ErrorCode, field: string = LABEL[kind]): string {
  // Length first and on its own: a megabyte string is refused without running the pattern over it.
  const { maxLength } = ID_LIMITS[kind];
  if (typeof value === 'string' && value.length > maxLength) {
    throw new HexfleetError('id_too_long', `${field} is ${value.length} characters long; at most ${maxLength}`);
  }
  if (!isValidId(value)) throw new HexfleetError(code, `${field} must be 1 to ${maxLength} printable ASCII characters (no spaces)`);
  return value;
}
