import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** What POST /v1/match answered, reduced to what the simulator acts on. */
export type MatchOutcome =
  | { kind: 'ok'; driverId: string; state: string }
  | { kind: 'no_driver' }
  /** 409 match_in_flight, 503 overloaded or store_unavailable, …: worth another try with the same order id (OrderSim asks again, then cancels). */
  | { kind: 'retryable'; code: string }
  | { kind: 'error'; code: string };

/** An order-service view of the HTTP dispatch API, with a service token. */
export interface MatchRequestBody {
  orderId: string;
  pickup: { lat: number; lng: number };
  dropoff: { lat: number; lng: number };
}

/** One HTTP call never takes longer: the gateway answers a match in milliseconds, a dead one never. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The match API over HTTP (keep-alive connections of Node's http and https
 * modules), round-robin over the gateways' `http(s)://` roots; a call that
 * cannot reach one gateway tries the next once. Never throws for an HTTP
 * status: outcomes are values.
 */
export class MatchApi {
  private next = 0;
  private readonly http = new HttpAgent({ keepAlive: true });
  private readonly https: HttpsAgent;

  constructor(
    private readonly httpRoots: readonly string[],
    private readonly serviceToken: string,
    /** PEM CA trusted for https:// instead of the system's (`--ca`). */
    ca?: string,
  ) {
    this.https = new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  async match(body: MatchRequestBody): Promise<MatchOutcome> {
    const r = await this.call('POST', '/v1/match', body);
    if (r.status === 200) {
      const b = r.body as { driverId?: string; state?: string };
      return { kind: 'ok', driverId: b.driverId ?? '', state: b.state ?? '' };
    }
    const code = (r.body as { code?: string } | undefined)?.code ?? `http_${r.status}`;
    if (r.status === 404 && code === 'no_driver') return { kind: 'no_driver' };
    if (r.status === 409 || r.status === 503) return { kind: 'retryable', code };
    return { kind: 'error', code };
  }

  /** Completes (`complete`) or cancels (`cancel`) an order; resolves with the HTTP status and error code. */
  async finish(orderId: string, action: 'complete' | 'cancel'): Promise<{ status: number; code?: string }> {
    const r = await this.call('POST', `/v1/orders/${encodeURIComponent(orderId)}/${action}`);
    const code = (r.body as { code?: string } | undefined)?.code;
    return code === undefined || r.status === 200 ? { status: r.status } : { status: r.status, code };
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    let lastErr: unknown;
    for (let tries = 0; tries < Math.min(2, this.httpRoots.length); tries++) {
      const root = this.httpRoots[this.next++ % this.httpRoots.length]!;
      try {
        const res = await this.send(new URL(root + path), method, body === undefined ? undefined : JSON.stringify(body));
        const text = res.text;
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        return { status: res.status, body: parsed };
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  private send(url: URL, method: string, body: string | undefined): Promise<{ status: number; text: string }> {
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { authorization: `Bearer ${this.serviceToken}` };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    return new Promise((resolve, reject) => {
      const options = { method, headers, timeout: REQUEST_TIMEOUT_MS };
      const onResponse = (res: import('node:http').IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      };
      const req = secure ? httpsRequest(url, { ...options, agent: this.https }, onResponse) : httpRequest(url, { ...options, agent: this.http }, onResponse);
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** `ws://h:p` → `http://h:p`, `wss://` → `https://`. */
export function httpRootOf(wsRoot: string): string {
  return wsRoot.replace(/^ws(s?):/, 'http$1:');
}
