import type { Logger } from 'pino';
import type { EventLog } from '../eventlog/event-log.js';
import type { Ownership } from '../ownership/ownership.js';
import type { OwnershipMetrics } from './ownership-metrics.js';
import { ownershipLogRecord } from '../ownership/ownership-records.js';
import type { OwnershipStore } from '../ownership/ownership-store.js';

export interface OwnershipClaimerDeps {
  /** This region (HEXFLEET_REGION). */
  region: string;
  store: OwnershipStore;
  /** Whether a region is known to be unreachable (RegionProber.isUnreachable: probed and failed, never "not probed yet"). */
  isUnreachable: (region: string) => boolean;
  /** This region's event log and its `<prefix>.ownership` topic; absent: nothing is published (no other region would learn of the record). */
  log?: { eventLog: EventLog; topic: string };
  metrics: OwnershipMetrics;
  logger: Logger;
}

/**
 * Claims a driver for this region when it connects here, and again for
 * every driver connected here when a region is found unreachable (a driver
 * that reconnected here before this region's probes saw its home fail would
 * otherwise stay homed in a dead region until its next reconnect):
 *
 *   no record                         → claim at epoch 1
 *   home here                         → nothing
 *   home elsewhere, that region up    → nothing: it stays the home; this region serves the driver read-only
 *   home elsewhere, that region down  → move: this region at epoch + 1 (one log line, hexfleet_ownership_moves_total)
 *
 * "Down" is a failed probe of that region (RegionProber), never the absence
 * of one. Every record written goes to the event log, so the other regions
 * converge through OwnershipStore.apply; nothing moves a driver back by
 * itself (a returning region only learns the higher epoch). Two regions
 * claiming at once write the same epoch: the store keeps the first and the
 * other's record loses everywhere (an equal epoch never changes the region).
 */
export class OwnershipClaimer {
  /** Sockets connected to this process, per driver (a driver may hold several for a moment while it reconnects). */
  private readonly connected = new Map<string, number>();

  /**
   * Drivers whose record this process wrote but could not append (the log
   * failed): appended again when the driver next connects here, since a
   * move that never reaches the log never fences the old home. In memory:
   * a gateway that dies first leaves it to the driver's next claim.
   */
  private readonly unpublished = new Set<string>();

  constructor(private readonly d: OwnershipClaimerDeps) {}

  /** What a connecting driver's home is after this call. Rejects when the store or the log fails (the caller logs; the next connect tries again). */
  async onConnect(driverId: string): Promise<Ownership> {
    this.connected.set(driverId, (this.connected.get(driverId) ?? 0) + 1);
    return (await this.claim(driverId)).current;
  }

  /** A socket of the driver closed (once per onConnect). */
  onDisconnect(driverId: string): void {
    const n = (this.connected.get(driverId) ?? 0) - 1;
    if (n > 0) this.connected.set(driverId, n);
    else this.connected.delete(driverId);
  }

  /**
   * `lost` was just found unreachable: the drivers connected here whose home
   * it is move here now (one by one; a failure is logged and the driver's
   * next connect tries again). Resolves with how many moved.
   */
  async onRegionLost(lost: string): Promise<number> {
    let moved = 0;
    let failed = 0;
    for (const driverId of [...this.connected.keys()]) {
      try {
        if ((await this.claim(driverId, lost)).moved) moved++;
      } catch {
        failed++;
      }
    }
    if (moved + failed > 0) this.d.logger.warn({ lost, moved, failed }, 'region unreachable: drivers connected here whose home it was moved here');
    return moved;
  }

  /** The table above, for a driver whose home is `onlyFrom` when given (another home: left as it is); `moved`: this call moved it here. */
  private async claim(driverId: string, onlyFrom?: string): Promise<{ current: Ownership; moved: boolean }> {
    const { region, store } = this.d;
    const held = await store.get(driverId);
    if (held && onlyFrom !== undefined && held.region !== onlyFrom) return { current: held, moved: false };
    if (held?.region === region) {
      if (this.unpublished.has(driverId)) await this.publish(driverId, held);
      return { current: held, moved: false };
    }
    if (held && !this.d.isUnreachable(held.region)) return { current: held, moved: false };
    const want: Ownership = { region, epoch: held ? held.epoch + 1 : 1 };
    const r = await store.apply(driverId, want);
    if (!r.applied) return { current: r.current, moved: false };
    if (!r.previous) {
      this.d.metrics.claims.inc();
    } else {
      this.d.metrics.moves.inc({ from: r.previous.region, to: region });
      this.d.logger.warn({ driverId, from: r.previous.region, to: region, epoch: want.epoch }, 'driver ownership moved here: its home region is unreachable');
    }
    await this.publish(driverId, want);
    return { current: r.current, moved: r.previous !== null };
  }

  private async publish(driverId: string, o: Ownership): Promise<void> {
    if (!this.d.log) return;
    this.unpublished.add(driverId);
    await this.d.log.eventLog.append(this.d.log.topic, [ownershipLogRecord({ driverId, ...o, at: Date.now() })]);
    this.unpublished.delete(driverId);
  }
}
