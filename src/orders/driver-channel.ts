import type { OfferFrame } from '../protocol/wire-frames.js';

/**
 * Delivers messages (offers) to a driver's socket, on whichever gateway the
 * driver is connected to. Guarantees: at most once per connected socket, no
 * ordering across drivers, nothing kept for a driver that is not connected
 * (an undelivered offer simply expires and the saga moves on).
 */
export interface DriverChannel {
  /** Resolves once the offer is handed to this process's sockets and published to the others; rejects with `store_unavailable` when it could not be published. */
  send(driverId: string, message: OfferFrame): Promise<void>;
  /** Called by the gateway's driver endpoint for each open socket; returns the detach function. */
  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void;
  close(): Promise<void>;
}
