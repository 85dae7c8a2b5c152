import type { Engine } from './backend.js';

/**
 * Closes an engine's parts in the order every engine uses: the pub/sub parts
 * first (nothing more is delivered or published), then the stores. The
 * engine closes its own connections afterwards.
 */
export async function closeParts(parts: Pick<Engine, 'channel' | 'positions' | 'assignments' | 'revocations' | 'orders' | 'drivers'>): Promise<void> {
  await parts.channel.close();
  await parts.revocations.close();
  await parts.positions.close();
  await parts.assignments.close();
  await parts.orders.close();
  await parts.drivers.close();
}
