import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unusedFixedPort } from '../../kit/free-port.js';
import type { WebhookBody } from '../../src/notify/webhook-body.js';
import { verifyWebhookSignature, WEBHOOK_HEADERS } from '../../src/notify/webhook-signature.js';

/** What the receiver does with a request: answer with a status, or never answer (the notifier's timeout fires). */
export type Answer = number | 'hang';

export interface Received {
  /** The `from` query parameter of the request URL: which notifier sent it, when each is given its own URL. */
  from: string;
  eventId: string;
  attempt: number;
  /** The signature checked on the receiver's side, as the order service would. */
  signatureOk: boolean;
  body: WebhookBody;
  status: Answer;
  at: number;
}

/**
 * The order service's webhook endpoint, for real: node:http on 127.0.0.1,
 * on a port of its own. `answer` decides per request (200, 500, 422, 429,
 * 'hang'); `close()` makes the port refuse connections and `listen()` opens
 * it again on the same port (the receiver recovering). It verifies every
 * signature and counts deliveries and duplicates by event id, as a
 * deduplicating receiver would.
 */
export class WebhookReceiver {
  answer: (eventId: string, attempt: number, from: string) => Answer = () => 200;
  /** The receiver's own processing time before it answers (a slow order service lets batches pile up). */
  delayMs = 0;
  readonly received: Received[] = [];
  /** Event ids answered 2xx, with how many times each was. */
  readonly delivered = new Map<string, number>();
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly secret: string) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(secret);
    await r.listen();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/hexfleet`;
  }

  /** Every 2xx beyond the first of its event id. */
  get duplicates(): number {
    let n = 0;
    for (const c of this.delivered.values()) n += c - 1;
    return n;
  }

  /** Requests whose event id is `id`, in arrival order. */
  attemptsOf(id: string): Received[] {
    return this.received.filter((r) => r.eventId === id);
  }

  /**
   * Listens (again) on its port. The first time on a free port below the
   * ephemeral range: while the receiver is closed, the notifier's retries
   * could otherwise be given that very port as their own source port and
   * connect to themselves (TCP simultaneous open).
   */
  async listen(): Promise<void> {
    if (this.port === 0) this.port = await unusedFixedPort();
    const server = createServer((req, res) => void this.handle(req, res));
    // A SIGKILLed notifier leaves keep-alive sockets: do not let them hold close() up.
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection (hanging requests included): connections are refused until listen(). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const eventId = String(req.headers[WEBHOOK_HEADERS.eventId] ?? '');
    const attempt = Number(req.headers[WEBHOOK_HEADERS.attempt] ?? NaN);
    const signatureOk = verifyWebhookSignature(this.secret, raw, {
      signature: req.headers[WEBHOOK_HEADERS.signature] as string | undefined,
      timestamp: req.headers[WEBHOOK_HEADERS.timestamp] as string | undefined,
    });
    const from = new URL(req.url ?? '/', 'http://x').searchParams.get('from') ?? '';
    const status = signatureOk ? this.answer(eventId, attempt, from) : 401;
    this.received.push({ from, eventId, attempt, signatureOk, body: JSON.parse(raw.toString('utf8')) as WebhookBody, status, at: Date.now() });
    if (status === 'hang') return; // never answered: close() destroys the socket
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (status >= 200 && status < 300) this.delivered.set(eventId, (this.delivered.get(eventId) ?? 0) + 1);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `refused with ${status}`);
  }
}
