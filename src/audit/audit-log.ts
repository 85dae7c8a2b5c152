/**
 * The audit trail of a gateway: who did (or tried) what, from where, and how
 * it ended, for a security team — apart from the operational log (pino),
 * which says how the process is doing.
 *
 * Each entry becomes one JSON object in the Elastic Common Schema style (see
 * `ecsLine`): `@timestamp`, `event.action`, `event.outcome`, `event.reason`,
 * `user.id`, `user.roles`, `source.ip`, `url.path` or `frame.type`,
 * `order.id` or `target`, `gateway.id`. Entries never carry a token, a
 * signature or a configuration secret: callers pass identities and codes,
 * never credentials, and free text is not a field.
 */
export interface AuditLog {
  /**
   * Records one entry. Never blocks the caller on I/O and never throws: a
   * sink that cannot keep up or is down drops what it cannot hold and counts
   * it (`hexfleet_audit_dropped_total{sink}`), it never slows a request.
   * Entries of one gateway reach each sink in the order they were recorded.
   */
  record(entry: AuditEntry): void;
  /** Reopens file sinks (logrotate moved the file away: SIGHUP). Other sinks ignore it. */
  reopen(): void;
  /** Writes out what every sink still holds (bounded by the sink's own timeout), then closes them. Idempotent. */
  close(): Promise<void>;
}

/** Stable `event.action` values: a SIEM rule may match on them. */
export type AuditAction =
  | 'config.start'
  | 'auth.rejected'
  | 'auth.failure_burst'
  | 'authz.denied'
  | 'admin.request'
  | 'order.match'
  | 'order.cancel'
  | 'order.complete'
  | 'offer.accept'
  | 'offer.decline'
  | 'token.mint'
  | 'token.revoke'
  | 'rate_limit.tripped'
  | 'connection.abuse_closed';

/** One audit entry, before it is stamped with the time and the gateway. */
export interface AuditEntry {
  action: AuditAction;
  outcome: 'success' | 'failure' | 'unknown';
  /** A stable code (an error code, a rejection reason), never a message with client input in it. */
  reason?: string;
  /** The actor: a token's subject and role (for a rejected token, what it claimed, if it could be read). */
  user?: { id: string; roles: readonly string[] };
  sourceIp?: string;
  /** HTTP: the path without its query string (a token may travel in `?token=`). */
  path?: string;
  method?: string;
  /** HTTP status of the answer, when there is one. */
  status?: number;
  /** WebSocket: the endpoint's path in `path` and the frame type here. */
  frameType?: string;
  orderId?: string;
  /** What the action concerned when it is not an order: a driver, a subject, a token id, an address. */
  target?: { type: string; id: string };
  /** Action-specific details with stable, secret-free values (counts, durations, the configuration). */
  details?: Record<string, unknown>;
}
