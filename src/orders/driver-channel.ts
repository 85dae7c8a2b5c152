import type { OfferFrame } from '../protocol/wire-frames.js';

/**
 * Delivers messages (offers) to a driver's socket, on whichever gateway the
 * driver is connected to. Guarantees: at most once per connected socket, no
 * ordering across drivers, nothing kept for a driver that is not connected
 * (an undelivered offer simply expires and the saga moves on).
 *
 * A socket whose `deliver` throws is reported in the log and skipped: the
 * driver's other sockets, on this gateway and the others, still get the
 * message, and the error never reaches the sender (`send` neither throws nor
 * rejects because of it).
 */
export interface DriverChannel {
  /** Resolves once the offer is handed to this process's sockets and published to the others; rejects with `store_unavailable` when it could not be published. */
  send(driverId: string, message: OfferFrame): Promise<void>;
  /** Called by the gateway's driver endpoint for each open socket; returns the detach function (idempotent). */
  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void;
  /**
   * Stops the channel for good (idempotent): afterwards nothing is delivered
   * to its sockets, `send` publishes nothing and resolves (the offer expires,
   * as one for a driver who is not connected), and `attach` is a no-op that
   * returns a no-op detach.
   */
  close(): Promise<void>;
}
