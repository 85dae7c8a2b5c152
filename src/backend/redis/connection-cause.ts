/** What an operator reads for the socket errors a Redis connection meets most. */
const CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (nothing listens there: is redis-server running, on that port?)',
  ECONNRESET: 'connection reset by the server',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (DNS did not answer)',
  EPIPE: 'connection closed by the server',
};

/**
 * The cause of a Redis connection failure, said plainly and with the
 * address: `Redis at 127.0.0.1:6390: connection refused (…)` rather than
 * what the client library says afterwards to every call ("Stream isn't
 * writeable and enableOfflineQueue options is false"). `where` names the
 * target when the error does not carry an address (a host name not found,
 * a refused AUTH).
 */
export function connectionCause(err: Error, where: string): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const at = e.address !== undefined && e.port !== undefined ? `${e.address}:${e.port}` : where;
  const what = (e.code !== undefined ? CAUSES[e.code] : undefined) ?? err.message;
  return `Redis at ${at}: ${what}`;
}

/** host:port of a redis:// or rediss:// URL, for messages (never its password). */
export function addressOfUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'the configured REDIS_URL';
  }
}
