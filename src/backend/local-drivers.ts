import type { Logger } from 'pino';
import type { OfferFrame } from '../protocol/wire-frames.js';
import { Listeners } from './listeners.js';

/**
 * The sockets of this process, by driver id: the local half of every
 * DriverChannel. A socket whose delivery throws is logged and skipped, so the
 * driver's other sockets still get the message and the sender never sees the
 * error. After `close` nothing is delivered and `attach` attaches nothing.
 */
export class LocalDrivers {
  private readonly sockets = new Map<string, Listeners<OfferFrame>>();
  private isClosed = false;

  constructor(private readonly log: Logger) {}

  get closed(): boolean {
    return this.isClosed;
  }

  /** Attaches a socket of `driverId`; returns the detach function (idempotent). */
  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void {
    if (this.isClosed) return () => {};
    const sockets = this.socketsOf(driverId);
    const detach = sockets.add(deliver);
    return () => {
      detach();
      if (sockets.size === 0 && this.sockets.get(driverId) === sockets) this.sockets.delete(driverId);
    };
  }

  /** Delivers to this process's sockets of the driver (none: nothing happens). */
  deliver(driverId: string, message: OfferFrame): void {
    this.sockets.get(driverId)?.deliver(message);
  }

  /** Detaches every socket for good (idempotent). */
  close(): void {
    this.isClosed = true;
    for (const sockets of this.sockets.values()) sockets.close();
    this.sockets.clear();
  }

  private socketsOf(driverId: string): Listeners<OfferFrame> {
    let sockets = this.sockets.get(driverId);
    if (!sockets) {
      sockets = new Listeners((err, message) => this.log.error({ err, driverId, orderId: message.orderId }, 'offer delivery to a socket failed'));
      this.sockets.set(driverId, sockets);
    }
    return sockets;
  }
}
