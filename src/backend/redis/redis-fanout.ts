import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

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
  private readonly sub: Redis | Cluster;
  private readonly handlers = new Map<string, (payload: Buffer) => void>();
  private readonly patternHandlers = new Map<string, (channel: string, payload: Buffer) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private connectedOnce = false;

  /** On a cluster, PUBLISH reaches the subscribers of every node (the cluster bus carries it). */
  constructor(private readonly pub: Redis | Cluster) {
    this.sub = 'isCluster' in pub && pub.isCluster
      ? (pub as Cluster).duplicate(undefined, { enableOfflineQueue: true, redisOptions: { ...(pub as Cluster).options.redisOptions, maxRetriesPerRequest: null } })
      : (pub as Redis).duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.sub.on('error', () => {}); // The command connection reports Redis outages.
    // After the first connection, every 'ready' is a reconnect: what was published meanwhile never came.
    this.sub.on('ready', () => {
      if (this.connectedOnce) for (const fn of this.reconnectListeners) fn();
      this.connectedOnce = true;
    });
    this.sub.on('messageBuffer', (channel: Buffer, raw: Buffer) => {
      if (raw.length < ID_BYTES || raw.subarray(0, ID_BYTES).equals(this.id)) return;
      this.handlers.get(channel.toString())?.(raw.subarray(ID_BYTES));
    });
    this.sub.on('pmessageBuffer', (pattern: Buffer, channel: Buffer, raw: Buffer) => {
      if (raw.length < ID_BYTES || raw.subarray(0, ID_BYTES).equals(this.id)) return;
      this.patternHandlers.get(pattern.toString())?.(channel.toString(), raw.subarray(ID_BYTES));
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

  /** Stops listening to `channel` (UNSUBSCRIBE); resolves once Redis confirmed. Messages already read are still handled by nobody. */
  unlisten(channel: string): Promise<void> {
    this.handlers.delete(channel);
    return this.sub.unsubscribe(channel).then(() => undefined);
  }

  /**
   * Calls `handler` with other processes' payloads on every channel matching
   * the glob `pattern` (PSUBSCRIBE; on a cluster, PUBLISH reaches every node,
   * so one node's subscription hears them all). A channel that is also
   * `listen`ed to is heard twice, once by each handler.
   */
  listenPattern(pattern: string, handler: (channel: string, payload: Buffer) => void): Promise<void> {
    this.patternHandlers.set(pattern, handler);
    return this.sub.psubscribe(pattern).then(() => undefined);
  }

  unlistenPattern(pattern: string): Promise<void> {
    this.patternHandlers.delete(pattern);
    return this.sub.punsubscribe(pattern).then(() => undefined);
  }

  /** Calls `listener` each time the subscriber connection comes back after a loss (ioredis resubscribes by itself); returns the remover. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  publish(channel: string, payload: Buffer | string): Promise<number> {
    const message = Buffer.concat([this.id, typeof payload === 'string' ? Buffer.from(payload) : payload]);
    return publisherOf(this.pub).publish(channel, message);
  }

  close(): void {
    this.handlers.clear();
    this.patternHandlers.clear();
    this.reconnectListeners.clear();
    this.sub.disconnect();
  }
}

/**
 * Where a process publishes. One Redis: its connection. A cluster: one and
 * the same primary every time (the first by address, while it is up):
 * ioredis would send each keyless PUBLISH to a random node, and messages
 * entering the cluster bus at different nodes can overtake each other,
 * breaking the per-publisher order the buses promise.
 */
function publisherOf(pub: Redis | Cluster): Redis | Cluster {
  if (!('isCluster' in pub && pub.isCluster)) return pub;
  const primaries = (pub as Cluster).nodes('master').filter((n) => n.status === 'ready');
  if (primaries.length === 0) return pub;
  const key = (n: Redis): string => `${n.options.host}:${n.options.port}`;
  return primaries.reduce((a, b) => (key(b) < key(a) ? b : a));
}
