import type { Logger } from 'pino';
import type { OfferFrame } from '../../protocol/wire-frames.js';
import type { DriverChannel } from '../../orders/driver-channel.js';
import { LocalDrivers } from '../local-drivers.js';

/**
 * One process (memory store): the driver is here or nowhere, and sending is
 * handing the offer to its sockets, inside `send`. A socket whose delivery
 * throws is logged and skipped (see LocalDrivers). After `close` nothing is
 * delivered and `send` resolves having done nothing: the offer expires, as
 * one for a driver who is not connected.
 */
export class LocalDriverChannel implements DriverChannel {
  private readonly local: LocalDrivers;

  /** `log` reports sockets whose delivery throws. */
  constructor(log: Logger) {
    this.local = new LocalDrivers(log);
  }

  async send(driverId: string, message: OfferFrame): Promise<void> {
    this.local.deliver(driverId, message);
  }

  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void {
    return this.local.attach(driverId, deliver);
  }

  async close(): Promise<void> {
    this.local.close();
  }
}
