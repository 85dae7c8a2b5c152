import fc from 'fast-check';
import { ErrorCodes } from '../../src/protocol/error-codes.js';
import { MAX_STORED_METRIC } from '../../src/ingest/ping-validator.js';
import { framePackr } from '../../src/protocol/frame-codec.js';
import type { RawDriverClient, Reply } from '../support/raw-driver-client.js';

/**
 * What the fuzz suites share: how many cases to run, progress lines, the
 * arbitraries of hostile input, and the invariants every answer must hold.
 *
 * `npm test` runs each suite CI-sized (FUZZ_RUNS unset: a few hundred cases
 * each, seconds). `npm run fuzz` sets FUZZ_RUNS=1000000 and splits it
 * across the suites by their weight, printing progress to stderr. A failure
 * prints fast-check's seed and path: FUZZ_SEED=<seed> replays it.
 */

/** Total cases of a full run, split across the suites by weight. */
const TOTAL = Number(process.env.FUZZ_RUNS ?? 0);

/** Cases for one suite: its CI size, or its share of FUZZ_RUNS. */
export function runsFor(ciRuns: number, weight: number): number {
  return TOTAL > 0 ? Math.max(1, Math.round(TOTAL * weight)) : ciRuns;
}

/** fast-check parameters: the run count, a replayable seed when given, no shrinking past a minute. */
export function fcParams(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return { numRuns, endOnFailure: false, interruptAfterTimeLimit: TOTAL > 0 ? 6 * 3_600_000 : 25_000, markInterruptAsFailure: true, ...(seed === undefined ? {} : { seed }) };
}

/** Prints `name: n/total cases, rate/s` to stderr every `every` cases (only in a full run). */
export function progress(name: string, total: number, every = Math.max(1000, Math.round(total / 50))): () => void {
  let n = 0;
  const started = Date.now();
  return () => {
    n++;
    if (TOTAL > 0 && (n % every === 0 || n === total)) {
      const rate = Math.round((n * 1000) / Math.max(1, Date.now() - started));
      process.stderr.write(`fuzz ${name}: ${n}/${total} cases, ${rate}/s\n`);
    }
  };
}

// ── arbitraries ────────────────────────────────────────────────────────────

/** Numbers where validators go wrong: bounds, float32 overflow, -0, huge, tiny, and NaN/Infinity (msgpack keeps them; JSON makes them null). */
export const nastyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e308, -1e308, 3.5e38, MAX_STORED_METRIC, MAX_STORED_METRIC - 0.01, 2 ** 53, 2 ** 53 + 2, -1, 90, 90.0000001, -180, 180.5, 360, 361, 5e-324, NaN, Infinity, -Infinity),
);

/** Strings where parsers go wrong: empty, blanks, hex, unicode, control characters, long ones. */
export const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '0x10', '1e3', '-0', 'NaN', 'Infinity', '\u0000', '%', '%zz', '\uD800', 'a'.repeat(129), 'b'.repeat(3000)),
);

/** Any JSON-ish value, numbers and strings included nasty ones. */
export const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, nastyNumber, nastyString, fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(nastyString, tie('value'), { maxKeys: 5 })),
})).value;

/** A ping: often near-valid (so some are stored), every field sometimes hostile or missing. */
export function pingArb(now: number): fc.Arbitrary<unknown> {
  const near = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: anyValue });
  const ping = fc.record(
    {
      seq: near(fc.integer({ min: 0, max: 1_000_000 })),
      lat: near(fc.double({ min: -90, max: 90, noNaN: true })),
      lng: near(fc.double({ min: -180, max: 180, noNaN: true })),
      ts: near(fc.integer({ min: now - 60_000, max: now + 10_000 })),
      acc: near(fc.double({ min: 0, max: 200_000, noNaN: true })),
      spd: near(fc.double({ min: 0, max: 200_000, noNaN: true })),
      hdg: near(fc.double({ min: -1, max: 361, noNaN: true })),
      status: near(fc.constantFrom('available', 'busy', 'offline', 'asleep')),
    },
    { requiredKeys: [] },
  );
  return fc.oneof({ weight: 9, arbitrary: ping }, { weight: 1, arbitrary: anyValue });
}

/** A frame of /v1/driver: pings batches, offer replies, unknown types, any value. */
export function driverFrameArb(now: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ type: fc.constant('pings'), pings: fc.oneof({ weight: 9, arbitrary: fc.array(pingArb(now), { maxLength: 30 }) }, { weight: 1, arbitrary: anyValue }) }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant('offer_reply'), orderId: fc.oneof(nastyString, anyValue), accept: fc.oneof(fc.boolean(), anyValue) }, { requiredKeys: ['type'] }) },
    { weight: 1, arbitrary: fc.record({ type: fc.oneof(nastyString, fc.constantFrom('pings', 'offer_reply', 'auth', '__proto__', 'constructor')) }) },
    { weight: 1, arbitrary: anyValue },
  );
}

/** A frame of /v1/track: (un)subscriptions with hostile ids and boxes, unknown types, any value. */
export const trackFrameArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe'), orderId: fc.oneof(nastyString, anyValue) }, { requiredKeys: ['type'] }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constantFrom('subscribe_area', 'unsubscribe_area'), bbox: fc.oneof(fc.array(nastyNumber, { minLength: 4, maxLength: 4 }), anyValue) }, { requiredKeys: ['type'] }) },
  { weight: 1, arbitrary: fc.record({ type: nastyString }) },
  { weight: 1, arbitrary: anyValue },
);

/** Raw frame bytes: text (any string) or binary (any bytes, usually not msgpack). */
export const rawFrameArb = fc.oneof(
  fc.string({ maxLength: 200 }).map((s) => ({ data: s, binary: false })),
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ data: Buffer.from(b), binary: true })),
);

/** encodeURIComponent that also takes lone surrogates (which it throws on): as a browser would send them, U+FFFD. */
export function encodeQuery(s: string): string {
  return encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
}

/** Bytes a frame takes on the wire in `encoding`: past the endpoint's limit uWS drops the connection (1006, frame_too_large). */
export function frameBytes(frame: unknown, encoding: 'json' | 'msgpack'): number {
  return encoding === 'json' ? Buffer.byteLength(JSON.stringify(frame) ?? '') : framePackr.pack(frame).length;
}

// ── invariants ─────────────────────────────────────────────────────────────

/** The longest message a reply may carry: the table's longest plus a bounded quote of input. */
const MAX_MESSAGE = 600;

/** Throws unless `reply` is a frame the protocol defines, with a stable, non-internal code and a bounded message. */
export function checkReply(reply: Record<string, unknown>, allowedTypes: readonly string[]): void {
  if (!allowedTypes.includes(reply.type as string)) throw new Error(`unexpected reply type ${JSON.stringify(reply).slice(0, 300)}`);
  if (reply.type !== 'error') return;
  const code = reply.code as string;
  if (!Object.hasOwn(ErrorCodes, code)) throw new Error(`error code not in the table: ${JSON.stringify(reply).slice(0, 300)}`);
  if (code === 'internal') throw new Error(`internal error for client input: ${JSON.stringify(reply).slice(0, 300)}`);
  if (typeof reply.message !== 'string' || reply.message.length > MAX_MESSAGE) throw new Error(`unbounded or missing message (${String(reply.message).length} chars)`);
  if (Array.isArray(reply.rejected) && reply.rejected.length > 10) throw new Error('pings_rejected listed more than 10 rejections');
  for (const k of ['orderId']) {
    const v = reply[k];
    if (v !== undefined && (typeof v !== 'string' || v.length > 128)) throw new Error(`reply echoes an unbounded ${k}`);
  }
}

/** Checks every reply `c` receives from now on with checkReply; what fails is pushed to `violations`. Returns `c`. */
export function watchReplies(c: RawDriverClient, allowedTypes: readonly string[], violations: string[]): RawDriverClient {
  c.onReply((r: Reply) => {
    try {
      checkReply(r as unknown as Record<string, unknown>, allowedTypes);
    } catch (err) {
      violations.push((err as Error).message);
    }
  });
  return c;
}

/** Throws unless an HTTP answer is a non-5xx with, for errors, a table code. */
export function checkHttp(status: number, json: unknown, what: string): void {
  if (status >= 500) throw new Error(`${what}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
  if (status >= 400) {
    const code = (json as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string' || !Object.hasOwn(ErrorCodes, code)) throw new Error(`${what}: HTTP ${status} without a table code: ${JSON.stringify(json).slice(0, 300)}`);
    const message = (json as { message?: unknown }).message;
    if (typeof message !== 'string' || message.length > MAX_MESSAGE) throw new Error(`${what}: unbounded or missing message`);
  }
}

/** Throws unless a driver record read back through the API holds only storable values. */
export function checkStoredDriver(d: Record<string, unknown>): void {
  const num = (k: string, lo: number, hi: number, optional = false) => {
    const v = d[k];
    if (optional && (v === null || v === undefined)) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new Error(`stored ${k}=${String(v)} is not in [${lo}, ${hi}]: ${JSON.stringify(d)}`);
  };
  num('lat', -90, 90);
  num('lng', -180, 180);
  num('ts', 0, Number.MAX_SAFE_INTEGER);
  num('seq', 0, Number.MAX_SAFE_INTEGER);
  num('acc', 0, MAX_STORED_METRIC - 0.01, true);
  num('spd', 0, MAX_STORED_METRIC - 0.01, true);
  num('hdg', 0, 360, true);
  if (!['available', 'busy', 'offline', 'unknown'].includes(d.status as string)) throw new Error(`stored status ${String(d.status)}`);
}
