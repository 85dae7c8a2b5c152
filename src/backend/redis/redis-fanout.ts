import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Length of a process id (a UUID) at the head of every message. */
const ID_BYTES = 36;

/**
 * Redis pub/sub for the gateways of one deployment, on ONE subscriber
 * connection per process whatever the number of channels. Each message is
 * prefixed with the publishing process's id, so a process never hears its own
 * publications (it delivers those locally, at once). Fire and forget, no
 * replay: for data whose latest value wins or whose loss a deadline covers
 * (offers, positions, saga events).
 *
 *   process A ──PUBLISH channel <A's id><payload>──▶ every other process on that channel
 */
export class RedisFanout {
  private readonly id = Buffer.from(randomUUID());
  private readonly sub: Redis;
  private readonly handlers = new Map<string, (payload: Buffer) => void>();

  constructor(private readonly pub: Redis) {
    this.sub = pub.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.sub.on('error', () => {}); // The command connection reports Redis outages.
    this.sub.on('messageBuffer', (channel: Buffer, raw: Buffer) => {
      if (raw.length < ID_BYTES || raw.subarray(0, ID_BYTES).equals(this.id)) return;
      this.handlers.get(channel.toString())?.(raw.subarray(ID_BYTES));
    });
  }

  /**
   * Calls `handler` with other processes' payloads on `channel`; resolves
   * once subscribed (ioredis resubscribes after a reconnect). `handler` must
   * not throw: it runs inside ioredis's reply reader, so each part catches
   * its own listeners' errors.
   */
  listen(channel: string, handler: (payload: Buffer) => void): Promise<void> {
    this.handlers.set(channel, handler);
    return this.sub.subscribe(channel).then(() => undefined);
  }

  publish(channel: string, payload: Buffer | string): Promise<number> {
    return this.pub.publish(channel, Buffer.concat([this.id, typeof payload === 'string' ? Buffer.from(payload) : payload]));
  }

  close(): void {
    this.handlers.clear();
    this.sub.disconnect();
  }
}
