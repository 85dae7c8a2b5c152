import type { OfferFrame } from '../../protocol/wire-frames.js';
import type { Logger } from 'pino';
import { redisCall } from './redis-call.js';
import type { RedisFanout } from './redis-fanout.js';
import type { DriverChannel } from '../../orders/driver-channel.js';
import { LocalDrivers } from '../local-drivers.js';

/**
 * Several gateways on one Redis: a message for a driver is delivered to this
 * process's sockets at once, and published on one pub/sub channel for the
 * others. Pub/sub rather than streams: an offer is worth nothing once its
 * driver is gone or it has expired, so fire-and-forget fits, and the saga's
 * deadlines cover a lost message.
 *
 *   gateway A ──PUBLISH <prefix>drivers {driverId, message}──▶ gateway B, C …
 *
 * A socket whose delivery throws is logged and skipped: the driver's other
 * sockets, the publication to other gateways and ioredis's reader go on.
 * After `close` nothing is delivered or published, and `send` resolves
 * having done nothing (the offer expires, as one for a driver not connected).
 */
export class RedisDriverChannel implements DriverChannel {
  private readonly local: LocalDrivers;
  private readonly channel: string;
  /** Resolves once this gateway receives other gateways' messages. */
  readonly ready: Promise<void>;

  constructor(
    private readonly fanout: RedisFanout,
    prefix: string,
    log: Logger,
  ) {
    this.channel = prefix + 'drivers';
    this.local = new LocalDrivers(log);
    this.ready = fanout
      .listen(this.channel, (raw) => {
        if (this.local.closed) return;
        let m: { driverId: string; message: OfferFrame };
        try {
          m = JSON.parse(raw.toString()) as { driverId: string; message: OfferFrame };
          if (typeof m?.driverId !== 'string' || typeof m.message?.orderId !== 'string') throw new Error('no offer');
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'unreadable driver channel message');
          return;
        }
        this.local.deliver(m.driverId, m.message);
      })
      .catch((err: Error) => log.warn({ err: err.message }, 'driver channel subscribe failed; retried on reconnect'));
  }

  async send(driverId: string, message: OfferFrame): Promise<void> {
    if (this.local.closed) return;
    this.local.deliver(driverId, message);
    await redisCall(() => this.fanout.publish(this.channel, JSON.stringify({ driverId, message })));
  }

  attach(driverId: string, deliver: (message: OfferFrame) => void): () => void {
    return this.local.attach(driverId, deliver);
  }

  /** Nothing is delivered or published afterwards; the fan-out connection belongs to the backend, which closes it. */
  async close(): Promise<void> {
    this.local.close();
  }
}
