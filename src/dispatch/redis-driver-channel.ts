import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisCall } from '../runtime/redis-call.js';
import { type DriverChannel, LocalDrivers } from './driver-channel.js';

/**
 * Several gateways on one Redis: a message for a driver is delivered to this
 * process's sockets at once, and published on one pub/sub channel for the
 * others (each ignores its own publications). Pub/sub rather than streams:
 * an offer is worth nothing once its driver is gone or it has expired, so
 * fire-and-forget fits, and the saga's deadlines cover a lost message.
 *
 *   gateway A ──PUBLISH <prefix>drivers {from, driverId, message}──▶ gateway B, C …
 */
export class RedisDriverChannel implements DriverChannel {
  private readonly local = new LocalDrivers();
  private readonly id = randomUUID();
  private readonly channel: string;
  private readonly sub: Redis;

  constructor(
    private readonly pub: Redis,
    prefix: string,
    log: Logger,
  ) {
    this.channel = prefix + 'drivers';
    this.sub = pub.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.sub.on('error', () => {}); // The main connection reports Redis outages.
    this.sub.subscribe(this.channel).catch((err: Error) => log.warn({ err: err.message }, 'driver channel subscribe failed; retried on reconnect'));
    this.sub.on('message', (_channel: string, raw: string) => {
      try {
        const m = JSON.parse(raw) as { from: string; driverId: string; message: object };
        if (m.from !== this.id) this.local.deliver(m.driverId, m.message);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'unreadable driver channel message');
      }
    });
  }

  async send(driverId: string, message: object): Promise<void> {
    this.local.deliver(driverId, message);
    await redisCall(() => this.pub.publish(this.channel, JSON.stringify({ from: this.id, driverId, message })));
  }

  attach(driverId: string, deliver: (message: object) => void): () => void {
    return this.local.attach(driverId, deliver);
  }

  async close(): Promise<void> {
    this.sub.disconnect();
  }
}
