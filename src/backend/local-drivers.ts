import type { OfferFrame } from '../protocol/wire-frames.js';
/** Sockets of this process, by driver id. */
export class LocalDrivers {
  private readonly sockets = new Map<string, Set<(message: OfferFrame) => void>>();

  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void {
    let set = this.sockets.get(driverId);
    if (!set) this.sockets.set(driverId, (set = new Set()));
    set.add(deliver);
    return () => {
      set.delete(deliver);
      if (set.size === 0 && this.sockets.get(driverId) === set) this.sockets.delete(driverId);
    };
  }

  /** Delivers to this process's sockets of the driver; false if it has none. */
  deliver(driverId: string, message: OfferFrame): boolean {
    const set = this.sockets.get(driverId);
    if (!set) return false;
    for (const d of set) d(message);
    return true;
  }
}
