/**
 * A driver's home region with its fenced epoch: the one region that may
 * reserve, offer and accept for the driver. Every other region serves the
 * driver read-only (nearby, tracking, last-known) from replicated data.
 *
 * The rule every store applies (see OwnershipStore.apply): a record with a
 * higher epoch replaces the held one; one with an equal or lower epoch
 * changes nothing, whatever region it names. So two regions that see the
 * same records, in any order and any number of times, hold the same owner,
 * and a region that moved a driver away (epoch n + 1) can never be overruled
 * by a late write of the old home at epoch n.
 */
export interface Ownership {
  /** The home region (HEXFLEET_REGION). */
  region: string;
  /** ≥ 1: 1 for the first claim, +1 per move. */
  epoch: number;
}

/** Whether `incoming` replaces `held` (a higher epoch; anything replaces nothing). */
export function supersedes(incoming: Ownership, held: Ownership | null): boolean {
  return held === null || incoming.epoch > held.epoch;
}

/** Throws (naming the field) unless `o` is a usable ownership record: a non-empty region without spaces and an epoch that is a positive safe integer. */
export function checkOwnership(o: Ownership): Ownership {
  if (typeof o.region !== 'string' || !/^[^\s]+$/.test(o.region)) throw new Error(`ownership region must be a non-empty name without spaces, got ${JSON.stringify(o.region)}`);
  if (!Number.isSafeInteger(o.epoch) || o.epoch < 1) throw new Error(`ownership epoch must be a positive integer, got ${String(o.epoch)}`);
  return o;
}

/** The record of its stored text, "epoch region" (the Redis value, written by applyOwnership.lua); null for null. */
export function parseOwnership(text: string | null): Ownership | null {
  if (text === null) return null;
  const space = text.indexOf(' ');
  return { epoch: Number(text.slice(0, space)), region: text.slice(space + 1) };
}
