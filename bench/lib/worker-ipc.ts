import type { Message } from './worker.js';

/**
 * The worker side of the IPC channel: every handler error becomes a `fatal`
 * message (the orchestrator reports it as a crash), and a worker whose
 * parent has gone exits instead of lingering.
 */
export function serveParent(handler: (m: Message) => void | Promise<void>): void {
  process.on('message', (m) => {
    Promise.resolve()
      .then(() => handler(m as Message))
      .catch(fatal);
  });
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

export function toParent(m: Message): void {
  process.send?.(m);
}

export function fatal(err: unknown): void {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.connected) process.send?.({ type: 'fatal', message }, () => process.exit(1));
  else process.exit(1);
}
