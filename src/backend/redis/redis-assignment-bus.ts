import type { Logger } from 'pino';
import type { AssignmentEvent } from '../../orders/assignment-events.js';
import type { RedisFanout } from './redis-fanout.js';
import type { AssignmentBus } from '../../tracking/assignment-bus.js';
import { Listeners } from '../listeners.js';

/**
 * Saga events across gateways: every event this process's saga publishes is
 * delivered to local listeners at once and published on one Redis channel;
 * events from the other gateways are delivered to local listeners.
 *
 *   publish (A) ──▶ local listeners (A)
 *               └─▶ PUBLISH <prefix>assignments event ──▶ listeners (B, C …)
 *
 * Pub/sub, not streams, for the reason positions use it: a watcher that
 * missed an event (it was not connected) reads the order from the order
 * store on subscribe, so nothing needs a replay. The order store stays the
 * truth; these events only make screens change sooner. A durable log of
 * events is the Kafka EventSink's job, not this bus's.
 */
export class RedisAssignmentBus implements AssignmentBus {
  private readonly listeners: Listeners<AssignmentEvent>;
  private readonly channel: string;
  /** Resolves once this gateway receives other gateways' events. */
  readonly ready: Promise<void>;

  constructor(
    private readonly fanout: RedisFanout,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.channel = prefix + 'assignments';
    // A listener that throws is logged and skipped: it stops neither the others nor the publisher (nor ioredis's reader).
    this.listeners = new Listeners((err, event) => log.error({ err, orderId: event.orderId }, 'assignment listener failed'));
    this.ready = fanout.listen(this.channel, (raw) => this.onMessage(raw.toString())).catch((err: Error) => {
      log.warn({ err: err.message }, 'assignment bus subscribe failed; retried on reconnect');
    });
  }

  subscribe(listener: (event: AssignmentEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Nothing is delivered or published afterwards; the fan-out connection belongs to the backend. */
  async close(): Promise<void> {
    this.listeners.close();
  }

  publish(event: AssignmentEvent): void {
    if (this.listeners.closed) return;
    this.listeners.deliver(event);
    this.fanout.publish(this.channel, JSON.stringify(event)).catch((err: Error) => {
      this.log.warn({ err: err.message, orderId: event.orderId, type: event.type }, 'assignment event not published to other gateways');
    });
  }

  private onMessage(raw: string): void {
    if (this.listeners.closed) return;
    let event: AssignmentEvent;
    try {
      event = JSON.parse(raw) as AssignmentEvent;
      if (typeof event?.orderId !== 'string' || typeof event.state !== 'string') throw new Error('no event');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'unreadable assignment bus message');
      return;
    }
    this.listeners.deliver(event);
  }
}
