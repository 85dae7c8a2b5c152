import { HEADERS } from './topics.js';

/**
 * The parsed JSON of a log record of `kind` (`orders`, `ownership`) whose
 * schema header must be `schema`. Throws with the reason for a record of
 * another schema or one that is not JSON (a consumer dead-letters it); the
 * caller checks the fields.
 */
export function parseJsonRecord<T>(value: Buffer, headers: Readonly<Record<string, string>>, schema: string, kind: string): Partial<T> {
  const got = headers[HEADERS.schema];
  if (got !== schema) throw new Error(`unknown ${kind} schema "${got ?? '(none)'}"`);
  try {
    return JSON.parse(value.toString('utf8')) as Partial<T>;
  } catch {
    throw new Error(`an ${kind} record is not JSON`);
  }
}
