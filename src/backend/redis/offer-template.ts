import { type OfferPick, offeredDoc } from '../../orders/offered-doc.js';
import type { OrderDoc } from '../../orders/order.js';

/**
 * The JSON of an offer's document (offeredDoc) with a hole for each value
 * that depends on the pick, so that createOrder.lua can write the offer of
 * whichever pick it reserves without the gateway serializing one document
 * per candidate:
 *
 *   parts  ['{"orderId":"o1",…,"driverId":', ',"offerExpiresAt":…,"distanceM":', …]
 *   slots  [ 1,                               2, …]   (1 driverId, 2 distanceM, 3 etaS, 4 etaSource)
 *   JSON = parts[0] + value[slots[0]] + parts[1] + … + parts[last]
 *
 * Each pick's values (`pickValues`) are JSON already, so the script only
 * concatenates: the result is byte for byte JSON.stringify(offeredDoc(…)).
 */
export interface OfferTemplate {
  parts: string[];
  /** 1-based index into pickValues() of the value after parts[i]. */
  slots: number[];
}

/**
 * Marker values in the document, found again in its JSON. JSON.stringify
 * writes their NUL characters as the six characters `\u0000`, which no
 * order field holds (ids are printable ASCII, the rest numbers and names).
 */
const MARKS = ['\u0000hf:driver\u0000', '\u0000hf:distance\u0000', '\u0000hf:eta\u0000', '\u0000hf:source\u0000'] as const;
const MARKED = new RegExp(MARKS.map((m) => JSON.stringify(m).replace(/\\/g, '\\\\')).join('|'), 'g');
/** Where the driver id shows in an offered document: driverId, the last of `tried`, the last history entry. */
const HOLES = 3 + 1 + 1 + 1;

/** The template of offeredDoc(doc, ·, now, offerExpiresAt). Throws if the document does not have each hole where expected. */
export function offerTemplate(doc: OrderDoc, now: number, offerExpiresAt: number): OfferTemplate {
  // The marks stand where numbers go: they become JSON strings, which is what the split finds.
  const marked = { driverId: MARKS[0], distanceM: MARKS[1], etaS: MARKS[2], etaSource: MARKS[3] } as unknown as OfferPick;
  const { version: _v, ...body } = offeredDoc(doc, marked, now, offerExpiresAt);
  const json = JSON.stringify(body);
  const parts: string[] = [];
  const slots: number[] = [];
  let from = 0;
  for (const m of json.matchAll(MARKED)) {
    parts.push(json.slice(from, m.index));
    slots.push(MARKS.indexOf(JSON.parse(m[0]) as (typeof MARKS)[number]) + 1);
    from = m.index! + m[0].length;
  }
  parts.push(json.slice(from));
  if (slots.length !== HOLES) throw new Error(`an offer's document has ${slots.length} pick-dependent values where ${HOLES} were expected`);
  return { parts, slots };
}

/** A pick's values as JSON, in slot order (driverId, distanceM, etaS, etaSource). */
export function pickValues(pick: OfferPick): [string, string, string, string] {
  return [JSON.stringify(pick.driverId), JSON.stringify(pick.distanceM), JSON.stringify(pick.etaS), JSON.stringify(pick.etaSource)];
}

/** parts and slots filled with `values`: what the script writes (tests compare it with JSON.stringify). */
export function fillTemplate(t: OfferTemplate, values: readonly string[]): string {
  let out = t.parts[0]!;
  for (let i = 0; i < t.slots.length; i++) out += values[t.slots[i]! - 1]! + t.parts[i + 1]!;
  return out;
}
