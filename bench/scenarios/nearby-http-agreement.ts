/**
 * Do the sides return the same drivers? The same sampled query points go
 * to every live side; each pair's id sets are compared point by point.
 *
 * Each side measures distance its own way: hexfleet with the haversine on
 * the stored 1e-7° coordinates and the mean Earth radius, Tile38 with its
 * own haversine, GEOSEARCH between 52-bit geohash cell centres (a point
 * moves by up to ~0.6 m) with another Earth radius. So two drivers at
 * almost the same distance may change places at the cut-off (the last
 * place, or the radius). A difference counts as a tie when every driver in
 * it lies within TIE_M of the cut-off, by one common measure (hexfleet's
 * haversine on the coordinates every side was loaded with).
 */
import { distanceM } from '../../src/geo/geodesy.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { pointIn } from '../lib/driver-sim.js';
import type { Hit, LiveSide, NearbyHttpContext } from './nearby-http-context.js';

/** Metres from the cut-off within which a swapped driver is a tie (above GEOSEARCH's geohash error). */
export const TIE_M = 1;
const SAMPLE_SEED = 0xa9ee;

/** The comparison of two sides over the sample. */
export interface PairAgreement {
  a: string;
  b: string;
  samples: number;
  /** Points where both returned exactly the same ids. */
  identical: number;
  /** Points where they differ only by drivers within TIE_M of the cut-off. */
  ties: number;
  /** The largest distance from the cut-off of a driver in a difference that is not a tie (m), 0 when none. */
  worstM: number;
  /** Points where a side's query failed. */
  failed: number;
}

/** Asks every side the same sampled points and compares every pair. */
export async function agreement(ctx: NearbyHttpContext, sides: readonly LiveSide[]): Promise<PairAgreement[]> {
  const { fleet, options } = ctx;
  const index = new Map(fleet.ids.map((id, i) => [id, i]));
  const pairs: PairAgreement[] = [];
  for (let i = 0; i < sides.length; i++) {
    for (let j = i + 1; j < sides.length; j++) {
      pairs.push({ a: sides[i]!.key, b: sides[j]!.key, samples: 0, identical: 0, ties: 0, worstM: 0, failed: 0 });
    }
  }
  const rand = mulberry32(SAMPLE_SEED);
  for (let n = 0; n < options.agreementSample; n++) {
    const p = pointIn(fleet.area, rand);
    const answers = await Promise.all(sides.map((s) => s.ask(p.lat, p.lng).catch(() => undefined)));
    // One common distance for every driver any side returned.
    const common = (id: string): number => {
      const k = index.get(id);
      return k === undefined ? NaN : distanceM(p.lat, p.lng, fleet.lat[k]!, fleet.lng[k]!);
    };
    let k = 0;
    for (let i = 0; i < sides.length; i++) {
      for (let j = i + 1; j < sides.length; j++) {
        compare(pairs[k++]!, answers[i], answers[j], common, options.limit, options.radiusM);
      }
    }
  }
  return pairs;
}

function compare(pair: PairAgreement, x: Hit[] | undefined, y: Hit[] | undefined, common: (id: string) => number, limit: number, radiusM: number): void {
  pair.samples++;
  if (!x || !y) {
    pair.failed++;
    return;
  }
  const xs = new Set(x.map((h) => h.id));
  const ys = new Set(y.map((h) => h.id));
  const diff = [...xs].filter((id) => !ys.has(id)).concat([...ys].filter((id) => !xs.has(id)));
  if (diff.length === 0) {
    pair.identical++;
    return;
  }
  // The cut-off of an answer: its farthest driver when the limit cut it, else the radius; the nearer of the two answers'.
  const cut = (ids: Set<string>): number => (ids.size >= limit ? Math.max(...[...ids].map(common)) : radiusM);
  const cutoff = Math.min(cut(xs), cut(ys));
  const off = Math.max(...diff.map((id) => Math.abs(common(id) - cutoff)));
  if (off <= TIE_M) pair.ties++;
  else pair.worstM = Math.max(pair.worstM, Number.isFinite(off) ? off : Infinity);
}
