import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { type Role, TokenService } from '../../src/auth/tokens.js';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { type Gateway, startGateway } from '../../src/gateway/gateway.js';
import { type ConnectOptions, DriverClient, type Encoding } from './ws-client.js';

/** 40 characters: above the 32 that HS256 needs. */
export const TEST_JWT_SECRET = 'hexfleet-test-secret-0123456789abcdefgh';

/** The environment every test gateway starts from: embedded memory store, free port, loopback, no logs. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  HEXFLEET_HOST: '127.0.0.1',
  HEXFLEET_STORE: 'memory',
  HEXFLEET_JWT_SECRET: TEST_JWT_SECRET,
  HEXFLEET_LOG_LEVEL: 'silent',
};

export interface HttpResult {
  status: number;
  contentType: string | null;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: any;
}

/** A driver id no other test uses. */
export function uniqueDriverId(prefix = 'drv'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * One running gateway (in this process, on a free port, memory store) with
 * the clients opened against it, so a test can close everything it made.
 */
export class TestGateway {
  readonly tokens = new TokenService(TEST_JWT_SECRET);
  readonly clients = new Set<DriverClient>();
  private serviceJwt: string | undefined;

  private constructor(
    readonly gateway: Gateway,
    readonly config: Config,
  ) {}

  /** Starts a gateway with `BASE_ENV` plus `env` (e.g. small limits). */
  static async start(env: Record<string, string> = {}): Promise<TestGateway> {
    const config = loadConfig({ ...BASE_ENV, ...env });
    // TEST_GATEWAY_LOG=debug shows the gateway's log lines when a test needs explaining.
    const gateway = await startGateway(config, pino({ level: process.env.TEST_GATEWAY_LOG ?? 'silent' }));
    const tg = new TestGateway(gateway, config);
    running.add(tg);
    return tg;
  }

  get port(): number {
    return this.gateway.port;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get driverUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/driver`;
  }

  token(role: Role, sub: string, ttlS?: number): Promise<string> {
    return this.tokens.sign({ role, sub, ...(ttlS === undefined ? {} : { ttlS }) });
  }

  async serviceToken(): Promise<string> {
    this.serviceJwt ??= await this.token('service', 'test-service');
    return this.serviceJwt;
  }

  /** Opens a driver socket with a fresh token for `driverId` (sent as ?token=). */
  async connectDriver(driverId: string, encoding: Encoding = 'json'): Promise<DriverClient> {
    return this.connect({ queryToken: await this.token('driver', driverId), encoding });
  }

  /** Opens a driver socket with explicit credentials; rejects with `UpgradeRefused` on an HTTP refusal. */
  async connect(options: ConnectOptions): Promise<DriverClient> {
    const client = await DriverClient.open(this.driverUrl, options);
    this.clients.add(client);
    return client;
  }

  /** A GET against the gateway, with a bearer token when given. */
  async get(path: string, token?: string): Promise<HttpResult> {
    const res = await fetch(this.httpUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, contentType: res.headers.get('content-type'), text, json };
  }

  /** GET /v1/drivers/:id as a service. */
  async driver(driverId: string): Promise<HttpResult> {
    return this.get(`/v1/drivers/${encodeURIComponent(driverId)}`, await this.serviceToken());
  }

  /** The Prometheus text of /metrics. */
  async metricsText(): Promise<string> {
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return res.text;
  }

  /** One sample of /metrics (0 when the series has no sample yet). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await this.metricsText(), name, labels);
  }

  /** Terminates every client of this gateway and waits until each is closed. */
  async closeClients(): Promise<void> {
    const all = [...this.clients];
    this.clients.clear();
    await Promise.all(all.map((c) => c.terminate()));
  }

  /** Closes the clients, then the gateway (idempotent). */
  async stop(): Promise<void> {
    await this.closeClients();
    await this.gateway.close();
    running.delete(this);
  }
}

const running = new Set<TestGateway>();

/** For `afterEach`: terminates the clients of every running gateway, keeping the gateways. */
export async function closeAllClients(): Promise<void> {
  await Promise.all([...running].map((g) => g.closeClients()));
}

/** For `afterAll`/`afterEach`: stops every gateway still running. */
export async function stopAllGateways(): Promise<void> {
  await Promise.all([...running].map((g) => g.stop()));
}

/**
 * The value of one Prometheus sample in exposition text; 0 when the series
 * has no sample yet (a labelled counter prints nothing before its first inc).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1]!, pair[2]!);
    if (have.size === wanted.length && wanted.every(([k, v]) => have.get(k) === v)) return Number(m[4]);
  }
  return 0;
}

/** A valid ping (Berlin, now) with `over` applied; coordinates have at most 7 decimals, as stored. */
export function ping(seq: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { seq, lat: 52.52, lng: 13.405, ts: Date.now(), ...over };
}
