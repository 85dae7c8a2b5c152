import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { circuitBreaker, ConsecutiveBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import type { Logger } from 'pino';
import { FailureLog } from '../runtime/failure-log.js';

/** The asymmetric algorithms a JWKS key may verify, each bound to one key type. */
export const JWKS_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type JwksAlg = (typeof JWKS_ALGS)[number];

/** One verification key of the set. */
export interface JwksKey {
  readonly kid: string;
  /** The only algorithm this key verifies (from its type, and its `alg` member when present). */
  readonly alg: JwksAlg;
  readonly key: KeyObject;
}

export interface JwksOptions {
  /** Where the set is: an http(s) URL, or a file path. */
  source: { url: string } | { file: string };
  /** How often the set is read again (rotation by kid without restart). */
  refreshMs: number;
  /** Shortest time between two reads asked for by tokens of an unknown kid. */
  minRefreshMs: number;
  /** A fetch that has not answered by then fails. */
  timeoutMs: number;
  /** Called after every read that changed the set (the verified-token cache is emptied then). */
  onChange: () => void;
  log: Logger;
}

/**
 * Consecutive failed reads that open the breaker, and how long it then stays
 * open: three in a row is a JWKS that is down, not slow; for 30 s no read is
 * attempted, so tokens of unknown kids cannot turn into a fetch storm.
 */
const BREAKER_FAILURES = 3;
const BREAKER_OPEN_MS = 30_000;

/**
 * The verification keys of a JWKS (RFC 7517), by `kid`, held in memory so
 * that verifying a token never waits: `get` is synchronous and answers from
 * the last good read. The set is read at `start`, every `refreshMs`, and soon
 * after a token names an unknown kid (at most once per `minRefreshMs`), each
 * read with a timeout and behind a circuit breaker. A failed read keeps the
 * keys it has: an unreachable JWKS never refuses a token whose key is held.
 * A read that succeeds replaces the set, so a key removed by the issuer stops
 * verifying within `refreshMs`.
 *
 * Keys that are not signature keys (`use` other than `sig`), of another type
 * than RSA, EC P-256 or Ed25519, or that do not parse are skipped with a
 * warning; symmetric (`oct`) keys are never taken (no HS256 from a JWKS).
 */
export class JwksKeys {
  private keys = new Map<string, JwksKey>();
  private readonly breaker: CircuitBreakerPolicy;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private lastRead = 0;
  private reading: Promise<void> | undefined;
  /** Refreshes retry on a timer: logged per outage, not per attempt. */
  private readonly failures: FailureLog;
  private closed = false;

  constructor(private readonly o: JwksOptions) {
    this.failures = new FailureLog(o.log, 'JWKS read', 'tokens of the keys already held are still accepted, others are refused', { level: 'error' });
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: BREAKER_OPEN_MS, breaker: new ConsecutiveBreaker(BREAKER_FAILURES) });
  }

  /** The key named `kid`, from the last good read. */
  get(kid: string): JwksKey | undefined {
    return this.keys.get(kid);
  }

  /** How many keys are held. */
  get size(): number {
    return this.keys.size;
  }

  /** Reads the set once (a failure is logged, not thrown: the gateway starts without it) and starts the periodic refresh. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.o.refreshMs);
    this.timer.unref();
  }

  /**
   * Asks for a read soon: now if the last one is older than `minRefreshMs`,
   * else when it will be (one scheduled read at most). For tokens of an
   * unknown kid, which are refused meanwhile with `unknown_key` (retry).
   */
  requestRefresh(): void {
    if (this.closed || this.soon || this.reading) return;
    const wait = this.lastRead + this.o.minRefreshMs - Date.now();
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.refresh();
    }, Math.max(0, wait));
    this.soon.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  /** One read (joined by callers while it runs); never rejects. */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async read(): Promise<void> {
    this.lastRead = Date.now();
    const { log } = this.o;
    try {
      const text = await this.breaker.execute(() => this.fetchText());
      const next = parseJwks(text, log);
      const changed = next.size !== this.keys.size || [...next].some(([kid, k]) => this.keys.get(kid)?.key.equals(k.key) !== true);
      this.keys = next;
      this.failures.succeeded({ keys: next.size });
      if (changed) {
        log.info({ kids: [...next.keys()] }, 'JWKS keys loaded');
        this.o.onChange();
      }
    } catch (err) {
      this.failures.failed(err, { keys: this.keys.size });
    }
  }

  private async fetchText(): Promise<string> {
    const { source, timeoutMs } = this.o;
    if ('file' in source) return readFile(source.file, 'utf8');
    const res = await fetch(source.url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`JWKS ${source.url} answered HTTP ${res.status}`);
    return res.text();
  }
}

/** The usable signature keys of a JWKS document, by kid; throws when it is not a JWKS at all. */
export function parseJwks(text: string, log: Logger): Map<string, JwksKey> {
  const doc = JSON.parse(text) as { keys?: unknown };
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.keys)) throw new Error('the JWKS is not an object with a keys array');
  const keys = new Map<string, JwksKey>();
  for (const jwk of doc.keys as Record<string, unknown>[]) {
    const kid = jwk?.kid;
    if (typeof kid !== 'string' || kid === '') {
      log.warn('JWKS key without a kid skipped (tokens name their key by kid)');
      continue;
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    try {
      const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      const alg = algOf(key);
      if (!alg) throw new Error(`key type ${key.asymmetricKeyType ?? 'symmetric'} is not RSA, EC P-256 or Ed25519`);
      if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error(`alg ${String(jwk.alg)} does not match its key type (${alg})`);
      keys.set(kid, { kid, alg, key });
    } catch (err) {
      log.warn({ kid, err: (err as Error).message }, 'JWKS key skipped');
    }
  }
  return keys;
}

/** The one algorithm a public key verifies: no algorithm confusion, whatever a token's header says. */
function algOf(key: KeyObject): JwksAlg | undefined {
  if (key.type !== 'public') return undefined;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec':
      return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : undefined;
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}
