import type { Logger } from 'pino';
import type { JwksKeys } from '../auth/jwks-keys.js';
import type { MfaPolicy } from '../auth/mfa.js';
import { RevocationList } from '../auth/revocation-list.js';
import type { Revocation, RevocationStore } from '../auth/revocation-store.js';
import { jwksOf, mfaPolicyOf, tokenPolicyOf } from '../auth/token-config.js';
import { TokenService } from '../auth/tokens.js';
import type { Config } from '../config/config-schema.js';
import { requireTokenKeys } from '../config/load-config.js';
import { FailureLog } from '../runtime/failure-log.js';
import type { SocketBase, WsEndpoint } from './ws-endpoint.js';

/** What a revocation needs of an endpoint. */
type SocketCloser = Pick<WsEndpoint<SocketBase>, 'closeWhere'>;

/** How often a revocation load that failed is tried again, and how often expired revocations are dropped. */
const RELOAD_MS = 1000;
const PRUNE_MS = 60_000;
/**
 * How long a start waits for the first revocation load (the backend may
 * still be connecting): long enough for a Redis that is up, short enough
 * that a Redis that is down does not hold the gateway back (it keeps trying
 * every second after listening, and logs it).
 */
const START_LOAD_MS = 5000;

/**
 * Who may talk to this gateway: the token service (HS256 secret and/or
 * JWKS, lifetimes, iss/aud, cache) and this gateway's copy of the
 * deployment's revocations, kept in step with the backend's RevocationStore.
 *
 * `start` reads the JWKS and the current revocations (a gateway that starts
 * refuses what was revoked before it), then follows new revocations: each
 * one goes into the list checked by every verification and closes the open
 * sockets it covers with 4403 — on every gateway, within the pub/sub delay.
 */
export class Identity {
  readonly tokens: TokenService;
  readonly mfa: MfaPolicy;
  readonly revocations = new RevocationList();
  private readonly jwks: JwksKeys | undefined;
  private unsubscribe: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** The background reload retries every second: logged per outage, not per attempt. */
  private readonly loadFailures: FailureLog;

  constructor(
    config: Config,
    private readonly log: Logger,
  ) {
    requireTokenKeys(config);
    this.jwks = jwksOf(config, log, () => this.tokens.forgetVerified());
    this.tokens = new TokenService({
      ...(config.jwtSecret ? { secret: config.jwtSecret } : {}),
      ...(this.jwks ? { jwks: this.jwks } : {}),
      policy: tokenPolicyOf(config),
      revocations: this.revocations,
      cacheSize: config.tokenCacheSize,
    });
    this.mfa = mfaPolicyOf(config);
    this.loadFailures = new FailureLog(log, 'revocation load', 'tokens revoked before this gateway started are still accepted here', { level: 'error' });
  }

  /** Reads the JWKS and the revocations, and closes the sockets of every revocation from now on. */
  async start(store: RevocationStore, endpoints: readonly SocketCloser[]): Promise<void> {
    this.unsubscribe = store.subscribe((r) => this.apply(r, endpoints));
    await Promise.all([this.jwks?.start(), this.load(store, endpoints, Date.now() + START_LOAD_MS)]);
    const prune = setInterval(() => this.revocations.prune(Date.now()), PRUNE_MS);
    prune.unref();
    this.timers.push(prune);
  }

  close(): void {
    this.unsubscribe?.();
    this.jwks?.close();
    for (const t of this.timers) clearInterval(t);
  }

  /**
   * The revocations held now. Failures are tried again every RELOAD_MS:
   * awaited until `waitUntil` (the start), in the background afterwards.
   */
  private async load(store: RevocationStore, endpoints: readonly SocketCloser[], waitUntil: number): Promise<void> {
    for (;;) {
      try {
        for (const r of await store.list(Date.now())) this.apply(r, endpoints);
        this.loadFailures.succeeded();
        return;
      } catch (err) {
        if (Date.now() + RELOAD_MS < waitUntil) {
          await new Promise((resolve) => setTimeout(resolve, RELOAD_MS));
          continue;
        }
        this.loadFailures.failed(err);
        const retry = setTimeout(() => void this.load(store, endpoints, 0), RELOAD_MS);
        retry.unref();
        this.timers.push(retry);
        return;
      }
    }
  }

  private apply(r: Revocation, endpoints: readonly SocketCloser[]): void {
    this.revocations.add(r);
    const now = Date.now();
    let closed = 0;
    for (const e of endpoints) closed += e.closeWhere((d) => this.revocations.revoking(d.principal, now) !== undefined, 'token_revoked');
    if (closed > 0) this.log.info({ kind: r.kind, closed }, 'revocation closed sockets');
  }
}
