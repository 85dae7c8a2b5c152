/** Listener signatures by event name. */
export type EventMap = { [event: string]: (...args: never[]) => void };

/**
 * A minimal typed event emitter that runs in browsers and Node alike (no
 * `node:events`). A listener that throws does not break the client that
 * emits: the error is rethrown on a fresh microtask, where the platform
 * reports it as uncaught.
 */
export class TypedEmitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        (l as (...a: Parameters<E[K]>) => void)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  protected listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
