/**
 * Ids that clients choose (driver ids from token subjects, order ids,
 * idempotency keys) become Redis hash fields, keys and log fields: 1 to 128
 * printable ASCII characters, no spaces. One rule for every id.
 */
export const ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** The longest id any endpoint accepts. */
export const ID_MAX_LENGTH = 128;

/** True for an id that every store and log can hold as it is. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}
