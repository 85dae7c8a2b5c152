/**
 * Delivers messages (offers) to a driver's socket, on whichever gateway the
 * driver is connected to. Guarantees: at most once per connected socket, no
 * ordering across drivers, nothing kept for a driver that is not connected
 * (an undelivered offer simply expires and the saga moves on).
 */
export interface DriverChannel {
  send(driverId: string, message: object): Promise<void>;
  /** Called by the gateway's driver endpoint for each open socket; returns the detach function. */
  attach(driverId: string, deliver: (message: object) => void): () => void;
  close(): Promise<void>;
}

/** Sockets of this process, by driver id. */
export class LocalDrivers {
  private readonly sockets = new Map<string, Set<(message: object) => void>>();

  attach(driverId: string, deliver: (message: object) => void): () => void {
    let set = this.sockets.get(driverId);
    if (!set) this.sockets.set(driverId, (set = new Set()));
    set.add(deliver);
    return () => {
      set.delete(deliver);
      if (set.size === 0 && this.sockets.get(driverId) === set) this.sockets.delete(driverId);
    };
  }

  /** Delivers to this process's sockets of the driver; false if it has none. */
  deliver(driverId: string, message: object): boolean {
    const set = this.sockets.get(driverId);
    if (!set) return false;
    for (const d of set) d(message);
    return true;
  }
}

/** One process (memory store): the driver is here or nowhere. */
export class LocalDriverChannel implements DriverChannel {
  private readonly local = new LocalDrivers();

  async send(driverId: string, message: object): Promise<void> {
    this.local.deliver(driverId, message);
  }

  attach(driverId: string, deliver: (message: object) => void): () => void {
    return this.local.attach(driverId, deliver);
  }

  async close(): Promise<void> {}
}
