import { checkOwnership, type Ownership, supersedes } from '../../ownership/ownership.js';
import type { OwnershipApplied, OwnershipStore } from '../../ownership/ownership-store.js';

/** The memory engine's ownership records (one process: every call is atomic). The memory order store reads them synchronously for its fence. */
export class MemoryOwnershipStore implements OwnershipStore {
  private readonly records = new Map<string, Ownership>();

  /** The held record, synchronously (the memory order store's fence). */
  peek(driverId: string): Ownership | null {
    const o = this.records.get(driverId);
    return o ? { ...o } : null;
  }

  async get(driverId: string): Promise<Ownership | null> {
    return this.peek(driverId);
  }

  async regionsOf(driverIds: readonly string[]): Promise<(string | null)[]> {
    return driverIds.map((id) => this.records.get(id)?.region ?? null);
  }

  async apply(driverId: string, record: Ownership): Promise<OwnershipApplied> {
    checkOwnership(record);
    const previous = this.peek(driverId);
    const applied = supersedes(record, previous);
    if (applied) this.records.set(driverId, { region: record.region, epoch: record.epoch });
    return { applied, previous, current: applied ? { ...record } : previous! };
  }
}
