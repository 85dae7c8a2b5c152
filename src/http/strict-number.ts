import { HexfleetError } from '../protocol/error-codes.js';

/**
 * Decimal numbers as a person writes them: an optional minus, digits, an
 * optional fraction and exponent. `Number()` would also take hex (`0x10`),
 * binary, `Infinity`, surrounding blanks, and read an empty or blank string
 * as 0; none of those is a coordinate or a radius.
 */
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The one parser of query-string numbers for every route: `raw` (the
 * parameter as sent, undefined when absent) must be a decimal in
 * [min, max], and a whole number when `integer`. Absent or empty gives
 * `fallback`, or `invalid_parameter` naming the parameter when there is none.
 * Messages quote at most 40 characters of the input.
 */
export function strictNumber(
  name: string,
  raw: string | null | undefined,
  range: { min: number; max: number; integer?: boolean; fallback?: number },
): number {
  if (raw === null || raw === undefined || raw === '') {
    if (range.fallback !== undefined) return range.fallback;
    throw new HexfleetError('invalid_parameter', `${name} is required`);
  }
  const v = DECIMAL.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(v) || v < range.min || v > range.max) {
    throw new HexfleetError('invalid_parameter', `${name} must be a decimal number in [${range.min}, ${range.max}], got "${raw.slice(0, 40)}"`);
  }
  if (range.integer && !Number.isInteger(v)) throw new HexfleetError('invalid_parameter', `${name} must be a whole number`);
  return v;
}
