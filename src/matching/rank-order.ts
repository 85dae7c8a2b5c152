/**
 * Candidate indices sorted by score: ETA ascending, then distance ascending,
 * then index ascending, so equal inputs always rank the same. A NaN ETA or
 * distance sorts as +Infinity (last), so one bad estimate never ranks first.
 * The one ranking rule, run in the dispatch pool (dispatch-worker.ts) for
 * long lists and on the caller's thread for short ones (CandidateSearch).
 */
export function rankOrder(etaS: Float64Array, distanceM: Float64Array): Int32Array {
  if (etaS.length !== distanceM.length) {
    throw new RangeError(`etaS has ${etaS.length} entries but distanceM has ${distanceM.length}; they must match`);
  }
  const order = new Int32Array(etaS.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => {
    const byEta = compareScores(etaS[a]!, etaS[b]!);
    if (byEta !== 0) return byEta;
    const byDistance = compareScores(distanceM[a]!, distanceM[b]!);
    return byDistance !== 0 ? byDistance : a - b;
  });
  return order;
}

function compareScores(x: number, y: number): number {
  const a = x === x ? x : Infinity;
  const b = y === y ? y : Infinity;
  return a < b ? -1 : a > b ? 1 : 0;
}
