import type { OfferFrame } from '../../protocol/wire-frames.js';
import type { DriverChannel } from '../../orders/driver-channel.js';
import { LocalDrivers } from '../local-drivers.js';

/** One process (memory store): the driver is here or nowhere. */
export class LocalDriverChannel implements DriverChannel {
  private readonly local = new LocalDrivers();

  async send(driverId: string, message: OfferFrame): Promise<void> {
    this.local.deliver(driverId, message);
  }

  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void {
    return this.local.attach(driverId, deliver);
  }

  async close(): Promise<void> {}
}
