import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { pack, unpack } from 'msgpackr';
import { pino } from 'pino';
import WebSocket from 'ws';
import { TokenService } from '../../src/auth/tokens.js';
import type { DriverRecord } from '../../src/geo/driver-store.js';
import { bucketOf, decodeRecord } from '../../src/backend/redis/redis-layout.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { deleteKeys, uniquePrefix } from './backends.js';
import { startTestGateway, TEST_JWT_SECRET } from './gateway-harness.js';
import { waitFor } from './wait-for.js';

export { deleteKeys, uniquePrefix };

/**
 * Gateways against a real Redis, real WebSocket driver clients and plain HTTP
 * requests, for the *.redis.test.ts files of test/ingest. Everything a test
 * starts is registered with a `Cleanup`, so a failing test still closes its
 * sockets and gateways and deletes its keys.
 */

/** The secret of every test gateway (the in-process ones and `hexfleet serve` children alike). */
export const JWT_SECRET = TEST_JWT_SECRET;
export const tokens = new TokenService(JWT_SECRET);
export const silentLogger = pino({ level: 'silent' });

/** Things to undo after a test, run last-registered first; every step runs even when one fails. */
export class Cleanup {
  private steps: (() => Promise<void> | void)[] = [];

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

/**
 * A port on loopback where nothing listens, taken below the kernel's
 * ephemeral range: a client retrying a connection to an ephemeral port can,
 * now and then, get that very port as its own source port and connect to
 * itself (TCP simultaneous open), and other tests' outgoing sockets cannot
 * take a port outside that range either.
 */
export async function unusedFixedPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the usual default bound is good enough.
  }
  const from = Math.max(1024, Math.min(low, 32768) - 12_000);
  const to = Math.max(from + 1000, low - 1);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in [${from}, ${to})`);
}

export interface RedisTestGateway {
  gateway: Gateway;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts a gateway in this process on a free port over the Redis at `redisUrl`
 * (which need not be up), with short timeouts and no rate limit in the way,
 * under `prefix` (shared: the caller deletes its keys). The in-process
 * starter of gateway-harness.ts (`startTestGateway`), closed by `cleanup`.
 */
export async function startRedisGateway(
  cleanup: Cleanup,
  redisUrl: string,
  prefix: string,
  env: Record<string, string> = {},
): Promise<RedisTestGateway> {
  const tg = await startTestGateway('redis', {
    redisUrl,
    prefix,
    waitReady: false,
    env: {
      HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '500',
      HEXFLEET_RATE_PINGS_PER_SEC: '100000',
      HEXFLEET_RATE_BURST: '1000000',
      ...env,
    },
  });
  const close = (): Promise<void> => tg.stop();
  cleanup.add(close);
  return { gateway: tg.gateway, port: tg.port, close };
}

export interface HttpResult {
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** One GET on its own connection (no keep-alive socket outlives the gateway). */
export function httpGet(port: number, path: string, token?: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let serviceToken: Promise<string> | undefined;
/** A `service` token for the read API. */
export function service(): Promise<string> {
  serviceToken ??= tokens.sign({ role: 'service', sub: 'tests' });
  return serviceToken;
}

export interface DriverView {
  driverId: string;
  lat: number;
  lng: number;
  ts: number;
  seq: number;
  stale: boolean;
  indexed: boolean;
}

/** GET /v1/drivers/:id: the record, or null on 404 (anything else fails). */
export async function getDriver(port: number, driverId: string): Promise<DriverView | null> {
  const r = await httpGet(port, `/v1/drivers/${encodeURIComponent(driverId)}`, await service());
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET /v1/drivers/${driverId}: ${r.status} ${r.text}`);
  return r.json as DriverView;
}

/** GET /v1/drivers/nearby: the driver ids found (anything but 200 fails). */
export async function nearbyIds(port: number, lat: number, lng: number, radiusM: number, extra = ''): Promise<string[]> {
  const r = await httpGet(port, `/v1/drivers/nearby?lat=${lat}&lng=${lng}&radius=${radiusM}&limit=100${extra}`, await service());
  if (r.status !== 200) throw new Error(`nearby: ${r.status} ${r.text}`);
  return (r.json as { drivers: { driverId: string }[] }).drivers.map((d) => d.driverId);
}

/** The sum of every sample of a metric whose labels contain `labels` (e.g. `op="apply"`). */
export async function metricValue(port: number, name: string, labels = ''): Promise<number> {
  const r = await httpGet(port, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  let sum = 0;
  for (const line of r.text.split('\n')) {
    if (!line.startsWith(name + ' ') && !line.startsWith(name + '{')) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** What a driver app sends: one ping. */
export interface WirePing {
  seq: number;
  lat: number;
  lng: number;
  ts: number;
}

export type Reply =
  | { type: 'ack'; seq: number }
  | { type: 'error'; code: string; message: string; seq?: number };

/**
 * A driver app's socket: sends ping frames (msgpack when `binary`, JSON
 * otherwise), collects every reply in arrival order and lets a test wait for
 * the reply to a batch.
 */
export class DriverClient {
  readonly replies: Reply[] = [];
  private readonly listeners = new Set<(r: Reply) => void>();
  private closeCode: number | undefined;

  private constructor(
    readonly driverId: string,
    private readonly ws: WebSocket,
    readonly binary: boolean,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const reply = (isBinary ? unpack(data) : JSON.parse(data.toString('utf8'))) as Reply;
      this.replies.push(reply);
      for (const l of [...this.listeners]) l(reply);
    });
    ws.on('close', (code) => {
      this.closeCode = code;
    });
  }

  static async connect(cleanup: Cleanup, port: number, driverId: string, binary = false): Promise<DriverClient> {
    const token = await tokens.sign({ role: 'driver', sub: driverId });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/driver?token=${encodeURIComponent(token)}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    ws.on('error', () => {}); // A reset during teardown is not a test failure; the close code says what happened.
    const client = new DriverClient(driverId, ws, binary);
    cleanup.add(() => client.close());
    return client;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get closedWith(): number | undefined {
    return this.closeCode;
  }

  send(pings: WirePing[]): void {
    const frame = { type: 'pings', pings };
    if (this.binary) this.ws.send(pack(frame), { binary: true });
    else this.ws.send(JSON.stringify(frame));
  }

  /** Calls `fn` for every reply from now on; returns the unsubscribe function. */
  onReply(fn: (r: Reply) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The first reply from now on that matches. */
  nextReply(match: (r: Reply) => boolean, what: string, timeoutMs = 20_000): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.driverId}: no ${what} within ${timeoutMs} ms; replies so far: ${JSON.stringify(this.replies.slice(-10))}`));
      }, timeoutMs);
      const off = this.onReply((r) => {
        if (!match(r)) return;
        clearTimeout(timer);
        off();
        resolve(r);
      });
    });
  }

  /** Sends a batch and resolves with its batch-level reply: the ack or error carrying its highest seq. */
  async sendBatch(pings: WirePing[]): Promise<Reply> {
    const last = Math.max(...pings.map((p) => p.seq));
    const reply = this.nextReply((r) => r.seq === last, `reply to the batch ending at seq ${last}`);
    this.send(pings);
    return reply;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((r) => this.ws.once('close', () => r()));
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    await closed;
  }
}

/** A plain connection to the test Redis, for checks and chaos commands; closed and its keys deleted by `cleanup`. */
export function adminRedis(cleanup: Cleanup, url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 20, retryStrategy: () => 50 });
  redis.on('error', () => {}); // It outlives Redis restarts on purpose.
  cleanup.add(() => redis.disconnect());
  return redis;
}

/** The record of a driver read straight from Redis, bypassing any gateway. */
export async function storedRecord(redis: Redis, prefix: string, driverId: string): Promise<DriverRecord | null> {
  const raw = await redis.hgetBuffer(`${prefix}:v1:r:${bucketOf(driverId)}`, driverId);
  return raw ? decodeRecord(driverId, raw) : null;
}

/** Waits until /readyz answers `status`; returns its JSON body. */
export async function waitForReady(port: number, status: 200 | 503): Promise<unknown> {
  let body: unknown;
  await waitFor(
    async () => {
      const r = await httpGet(port, '/readyz');
      body = r.json;
      return r.status === status;
    },
    { what: `/readyz ${status}`, timeoutMs: 30_000 },
  );
  return body;
}
