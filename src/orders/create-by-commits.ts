import { offeredDoc } from './offered-doc.js';
import type { CommitEffects, CommitResult, CreateResult, NewOrder, OrderStore } from './order-store.js';
import type { OrderDoc } from './order.js';

/** One commit of a creation: the document and effects `commit(doc, 1, effects)` gets for version 2. */
export interface SecondCommit {
  doc: OrderDoc;
  effects: CommitEffects;
}

/**
 * What OrderStore.create commits as version 2, in the order it tries them:
 * each pick's offer (stop at the first that applies), or the one plain commit.
 */
export function secondCommits(order: NewOrder, now: number): SecondCommit[] {
  if ('commit' in order.then) return [order.then.commit];
  const { picks, offerExpiresAt, leaseMs, staleMs, homeRegion, event } = order.then.offer;
  return picks.map((pick) => ({
    doc: offeredDoc(order.doc, pick, now, offerExpiresAt),
    effects: { reserve: { driverId: pick.driverId, leaseMs, staleMs, ...(homeRegion !== undefined ? { homeRegion } : {}) }, deadline: offerExpiresAt, event },
  }));
}

/** The CreateResult of version 2's attempts: `r` the one that applied (or the last tried), `i` its index. */
export function createResult(r: CommitResult | undefined, i: number, isOffer: boolean): CreateResult {
  if (r?.ok) return { ok: true, version: r.version, ...(r.fence !== undefined ? { fence: r.fence } : {}), picked: isOffer ? i : -1, refused: isOffer ? i : 0 };
  return { ok: true, version: 1, picked: -1, refused: isOffer ? i : 0 };
}

/**
 * OrderStore.create as a sequence of commits, each atomic on its own: for
 * an engine that cannot do it in one step (Redis Cluster, where reserving is
 * two steps on two shards already). The results are those of `create`,
 * except that another process may commit the order between two of these
 * commits: then the result says version 1, nothing picked.
 */
export async function createByCommits(store: Pick<OrderStore, 'commit'>, order: NewOrder, now: number): Promise<CreateResult> {
  const created = await store.commit(order.doc, 0, order.effects, now);
  if (!created.ok) return { ok: false, reason: 'conflict' };
  const steps = secondCommits(order, now);
  let i = 0;
  for (; i < steps.length; i++) {
    const r = await store.commit(steps[i]!.doc, created.version, steps[i]!.effects, now);
    if (r.ok || r.reason === 'conflict') return createResult(r, i, 'offer' in order.then);
  }
  return createResult(undefined, i, 'offer' in order.then);
}
