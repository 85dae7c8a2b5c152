import type { Logger } from 'pino';
import type { AuditEntry, AuditLog } from './audit-log.js';
import type { AuditMetrics } from './audit-metrics.js';
import type { AuthFailureMonitor, Burst } from './auth-failure-monitor.js';
import { claimedIdentity, rejectionReason } from './token-claims.js';

/** Who did something, as the audit trail names them. */
export interface AuditUser {
  id: string;
  roles: readonly string[];
}

/** Where a request or frame came from and what it addressed. */
export interface AccessPoint {
  sourceIp?: string;
  /** HTTP: the path without query; WebSocket: the endpoint's path. */
  path: string;
  method?: string;
  frameType?: string;
}

/**
 * One rate-limit entry per connection or principal per this interval: a
 * client that keeps hitting its limit is recorded once every 10 s, not once
 * per refused frame (the metrics count every one).
 */
const LIMIT_AUDIT_INTERVAL_MS = 10_000;

/**
 * What the gateway's HTTP and WebSocket plumbing calls about access: the
 * cool-off check before any work, rejected authentications (audited, counted
 * per address and subject, bursts found), denials, rate-limit trips, abuse
 * closes, and the audit trail itself for everything else.
 */
export class AccessGuard {
  /** Last rate-limit entry per key, oldest first (bounded like the monitor's maps). */
  private readonly limitSeen = new Map<string, number>();
  /** Peers whose X-Forwarded-For is believed (HEXFLEET_TRUSTED_PROXIES), IPv4-mapped IPv6 written as IPv4. */
  private readonly trusted: ReadonlySet<string>;

  constructor(
    readonly audit: AuditLog,
    private readonly monitor: AuthFailureMonitor,
    private readonly metrics: AuditMetrics,
    private readonly log: Logger,
    private readonly maxTracked: number,
    trustedProxies: readonly string[] = [],
  ) {
    this.trusted = new Set(trustedProxies.map(plainAddress));
  }

  /** Whether any proxy is trusted: only then does a request's X-Forwarded-For need copying. */
  get trustsProxies(): boolean {
    return this.trusted.size > 0;
  }

  /**
   * The client's address: `peer`, unless `peer` is a trusted proxy — then the
   * last address of its X-Forwarded-For (the one the proxy itself saw; the
   * entries before it are whatever the client wrote). A header that is
   * missing or not an address leaves `peer`.
   */
  sourceOf(peer: string, forwardedFor: string | undefined): string {
    if (this.trusted.size === 0 || !forwardedFor || !this.trusted.has(plainAddress(peer))) return peer;
    const last = forwardedFor.slice(forwardedFor.lastIndexOf(',') + 1).trim();
    return /^[0-9A-Fa-f:.]{2,45}$/.test(last) ? last : peer;
  }

  /** Whether any address is cooling off: while none is, a request need not even read its peer address. */
  get anyCoolingOff(): boolean {
    return this.monitor.coolingOff > 0;
  }

  /**
   * Until when `address` is refused (ms since the epoch), or 0 — counted
   * as a refusal when it is. Costs a size check while nobody cools off.
   */
  refusedUntil(address: string | undefined, endpoint: 'http' | 'ws', now: number): number {
    if (address === undefined) return 0;
    const until = this.monitor.refusedUntil(address, now);
    if (until > 0) this.metrics.cooloffRefusals.inc({ endpoint });
    else this.metrics.coolingOff.set(this.monitor.coolingOff);
    return until;
  }

  /**
   * A token was refused (401, a refused upgrade, an `auth` frame): audited
   * with why and who it claimed to be (`user`: who the connection already
   * was, for a frame), and counted towards a burst.
   */
  authFailed(at: AccessPoint, err: unknown, token: string | undefined, status?: number, known?: AuditUser): void {
    const reason = rejectionReason(err, token);
    const user = known ?? claimedIdentity(token);
    this.metrics.authFailures.inc({ reason });
    this.audit.record({ ...entryAt(at, status), action: 'auth.rejected', outcome: 'failure', reason, ...(user ? { user } : {}) });
    // Only presented credentials count towards a burst: a request without a token guesses nothing (a probe, a
    // misconfigured scraper), and a key the gateway has not loaded yet is its own lag (a rotation), not the client's.
    if (reason === 'no_token' || reason === 'unknown_key') return;
    const now = Date.now();
    for (const burst of this.monitor.failed(at.sourceIp, user?.id, now)) this.burst(at, burst, now);
    this.metrics.coolingOff.set(this.monitor.coolingOff);
  }

  /** A verified principal was refused an action (403: forbidden, not_allowed, mfa_required). */
  denied(at: AccessPoint, reason: string, user: AuditUser | undefined, about: Pick<AuditEntry, 'orderId' | 'target'> = {}, status?: number): void {
    this.audit.record({ ...entryAt(at, status), ...about, action: 'authz.denied', outcome: 'failure', reason, ...(user ? { user } : {}) });
  }

  /** A rate limit refused something of `key` (a connection, a principal): recorded at most once per key every 10 s. */
  limited(at: AccessPoint, reason: string, user: AuditUser | undefined, key: string, status?: number): void {
    const now = Date.now();
    const last = this.limitSeen.get(key);
    if (last !== undefined && now - last < LIMIT_AUDIT_INTERVAL_MS) return;
    this.limitSeen.delete(key);
    for (const [k, t] of this.limitSeen) {
      if (now - t < LIMIT_AUDIT_INTERVAL_MS && this.limitSeen.size < this.maxTracked) break;
      this.limitSeen.delete(k);
    }
    this.limitSeen.set(key, now);
    this.audit.record({ ...entryAt(at, status), action: 'rate_limit.tripped', outcome: 'failure', reason, ...(user ? { user } : {}) });
  }

  /** The gateway closed a connection for abuse (4400 bad frames, 4008 slow consumer, …). */
  abuseClosed(at: AccessPoint, reason: string, user: AuditUser | undefined): void {
    this.audit.record({ ...entryAt(at), action: 'connection.abuse_closed', outcome: 'success', reason, ...(user ? { user } : {}) });
  }

  private burst(at: AccessPoint, burst: Burst, now: number): void {
    this.metrics.bursts.inc({ by: burst.by });
    const details: Record<string, unknown> = { failures: burst.failures };
    if (burst.refusedUntil !== undefined) details.cooloff_until = new Date(burst.refusedUntil).toISOString();
    this.audit.record({
      ...entryAt(at),
      action: 'auth.failure_burst',
      outcome: 'success',
      reason: burst.refusedUntil !== undefined ? 'cooloff' : 'reported',
      target: { type: burst.by, id: burst.key },
      details,
    });
    this.log.warn({ by: burst.by, key: burst.key, failures: burst.failures, refusedForMs: burst.refusedUntil && burst.refusedUntil - now }, 'burst of failed authentications');
  }
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: one spelling of an IPv4 peer, whichever the socket reports. */
function plainAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function entryAt(at: AccessPoint, status?: number): Omit<AuditEntry, 'action' | 'outcome'> {
  const entry: Omit<AuditEntry, 'action' | 'outcome'> = { path: at.path };
  if (at.sourceIp !== undefined) entry.sourceIp = at.sourceIp;
  if (at.method !== undefined) entry.method = at.method;
  if (at.frameType !== undefined) entry.frameType = at.frameType;
  if (status !== undefined) entry.status = status;
  return entry;
}
