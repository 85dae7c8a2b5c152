import type { Logger } from 'pino';
import type { OfferFrame } from '../../protocol/wire-frames.js';
import type { DriverChannel } from '../../orders/driver-channel.js';
import { LocalDrivers } from '../local-drivers.js';

/**
 * One process (memory store): the driver is here or nowhere, and sending is
 * handing the offer to its sockets, inside `send`. A socket whose delivery
 * throws is reported and skipped, so the driver's other sockets still get
 * the offer. After `close` nothing is delivered and `send` resolves having
 * done nothing: the offer expires, as one for a driver who is not connected.
 */
export class LocalDriverChannel implements DriverChannel {
  private readonly local = new LocalDrivers();
  private closed = false;

  /** `log` reports sockets whose delivery throws; without one they become process warnings. */
  constructor(private readonly log?: Logger) {}

  async send(driverId: string, message: OfferFrame): Promise<void> {
    if (!this.closed) this.local.deliver(driverId, message);
  }

  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void {
    if (this.closed) return () => {};
    return this.local.attach(driverId, (message) => {
      if (this.closed) return;
      try {
        deliver(message);
      } catch (err) {
        if (this.log) this.log.error({ err, driverId, orderId: message.orderId }, 'offer delivery to a socket failed');
        else process.emitWarning(err as Error, 'OfferDeliveryFailed');
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
