import type { Logger } from 'pino';
import type { Revocation, RevocationStore } from '../../auth/revocation-store.js';
import { Listeners } from '../listeners.js';

/**
 * One process (memory engine): the revocations live in this process, and
 * `add` delivers to the listeners inside the call. Nothing survives a
 * restart, like everything else of this engine.
 */
export class MemoryRevocationStore implements RevocationStore {
  private readonly held: Revocation[] = [];
  private readonly listeners: Listeners<Revocation>;
  readonly ready = Promise.resolve();

  constructor(log: Logger) {
    this.listeners = new Listeners((err, r) => log.error({ err, kind: r.kind }, 'revocation listener failed'));
  }

  async add(revocation: Revocation): Promise<void> {
    this.held.push(revocation);
    this.listeners.deliver(revocation);
  }

  async list(now: number): Promise<Revocation[]> {
    return this.held.filter((r) => r.keepUntil > now);
  }

  subscribe(listener: (revocation: Revocation) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.close();
  }
}
