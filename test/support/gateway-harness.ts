import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { type Role, TokenService } from '../../src/auth/tokens.js';
import type { BackendKind } from '../../src/backend/backend.js';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { type Gateway, startGateway } from '../../src/gateway/gateway.js';
import { metricValue, type Scrape, scrapeMetrics } from '../../kit/metrics-scrape.js';
import { type BackendTarget, deleteKeysAt, redisTarget, uniquePrefix } from './backends.js';
import { registerAdminPort } from './api-response-check.js';
import { type ApiResult, httpRequest } from './http-request.js';
import { type ConnectOptions, type Encoding, RawDriverClient } from './raw-driver-client.js';

/** 40 characters: above the 32 that HS256 needs. */
export const TEST_JWT_SECRET = 'hexfleet-test-secret-0123456789abcdefgh';

/** The environment every test gateway starts from: embedded memory store, free ports (public and admin), loopback, no logs. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  HEXFLEET_ADMIN_PORT: '0',
  HEXFLEET_HOST: '127.0.0.1',
  HEXFLEET_STORE: 'memory',
  HEXFLEET_JWT_SECRET: TEST_JWT_SECRET,
  HEXFLEET_LOG_LEVEL: 'silent',
};

/** Where a test gateway keeps its state: the engine, and for engines on Redis, the server and key prefix. */
export interface TestGatewayOptions {
  /** Variables on top of `BASE_ENV` and the engine's own (e.g. small limits). */
  env?: Record<string, string>;
  /** Required by engines on Redis (see `BackendHosts`); `redisUrl` is short for `target: redisTarget(redisUrl)`. */
  target?: BackendTarget;
  redisUrl?: string;
  /**
   * Key prefix on Redis. Default: a fresh one, whose keys are deleted when
   * the gateway stops. A prefix given here is shared (two gateways of one
   * deployment): the caller deletes its keys.
   */
  prefix?: string;
  /** Resolve only once the backend answers and receives what other processes publish (default true). */
  waitReady?: boolean;
}

/** The variables that select an engine and where it keeps its state. */
function backendEnv(kind: BackendKind, target: BackendTarget | undefined, prefix: string): Record<string, string> {
  if (kind === 'memory') return { HEXFLEET_STORE: 'memory' };
  if (!target) throw new Error(`a ${kind} test gateway needs a target (see BackendHosts)`);
  return { ...target.env, HEXFLEET_STORE: kind, HEXFLEET_REDIS_PREFIX: prefix };
}

/**
 * Starts a gateway in this process on a free port over the engine `kind`
 * (memory, or Redis at `redisUrl` under a fresh key prefix): the one starter
 * of every in-process test gateway, so a suite that iterates `TEST_BACKENDS`
 * gets the same gateway on each.
 */
export async function startTestGateway(kind: BackendKind, o: TestGatewayOptions = {}): Promise<TestGateway> {
  const prefix = o.prefix ?? uniquePrefix();
  const target = o.target ?? (o.redisUrl ? redisTarget(o.redisUrl) : undefined);
  const config = loadConfig({ ...BASE_ENV, ...backendEnv(kind, target, prefix), ...o.env });
  // TEST_GATEWAY_LOG=debug shows the gateway's log lines when a test needs explaining.
  const gateway = await startGateway(config, pino({ level: process.env.TEST_GATEWAY_LOG ?? 'silent' }));
  const ownKeys = kind !== 'memory' && o.prefix === undefined ? { target: target!, prefix } : undefined;
  const tg = new TestGateway(gateway, config, kind, kind === 'memory' ? undefined : prefix, ownKeys);
  running.add(tg);
  // Its admin port answers 404 to the API: not the public port the OpenAPI document describes.
  if (gateway.adminPort !== undefined) tg.onStop(registerAdminPort(gateway.adminPort));
  if (o.waitReady ?? true) {
    try {
      await gateway.backend.waitUntilReady(20_000);
      await gateway.backend.subscribed;
    } catch (err) {
      await tg.stop();
      throw err;
    }
  }
  return tg;
}

/** An HTTP answer, with its content type picked out (null when there is none). */
export type HttpResult = ApiResult & { contentType: string | null };

/** A driver id no other test uses. */
export function uniqueDriverId(prefix = 'drv'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * One running gateway (in this process, on a free port) with the clients
 * opened against it, so a test can close everything it made.
 */
export class TestGateway {
  readonly tokens = new TokenService(TEST_JWT_SECRET);
  readonly clients = new Set<RawDriverClient>();
  private serviceJwt: string | undefined;
  private stopped: Promise<void> | undefined;
  private readonly stopHooks: (() => unknown)[] = [];

  /** Use `startTestGateway` or `TestGateway.start`. */
  constructor(
    readonly gateway: Gateway,
    readonly config: Config,
    readonly kind: BackendKind,
    /** The key prefix on Redis (undefined for memory). */
    readonly prefix: string | undefined,
    /** Keys this gateway owns and deletes when it stops. */
    private readonly ownKeys: { target: BackendTarget; prefix: string } | undefined,
  ) {}

  /** Starts a memory gateway with `BASE_ENV` plus `env` (e.g. small limits). */
  static start(env: Record<string, string> = {}): Promise<TestGateway> {
    return startTestGateway('memory', { env });
  }

  get port(): number {
    return this.gateway.port;
  }

  /** The admin listener's port (/metrics, /readyz with details). */
  get adminPort(): number {
    if (this.gateway.adminPort === undefined) throw new Error('this gateway runs without an admin listener (HEXFLEET_ADMIN_PORT=-1)');
    return this.gateway.adminPort;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get driverUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/driver`;
  }

  /**
   * A token for `role`. An admin token is an operator's who signed in with a
   * second factor just now (`amr: ["pwd","otp"]`, `auth_time` now), as admin
   * actions require (RBAC_TABLE); mint one without it through `tokens.sign`.
   */
  token(role: Role, sub: string, ttlS?: number): Promise<string> {
    const mfa = role === 'admin' ? { amr: ['pwd', 'otp'], authTimeS: Math.floor(Date.now() / 1000) } : {};
    return this.tokens.sign({ role, sub, ...mfa, ...(ttlS === undefined ? {} : { ttlS }) });
  }

  async serviceToken(): Promise<string> {
    this.serviceJwt ??= await this.token('service', 'test-service');
    return this.serviceJwt;
  }

  /** Opens a driver socket with a fresh token for `driverId` (sent as ?token=). */
  async connectDriver(driverId: string, encoding: Encoding = 'json'): Promise<RawDriverClient> {
    return this.connect({ queryToken: await this.token('driver', driverId), encoding });
  }

  /** Opens a driver socket with explicit credentials; rejects with `UpgradeRefused` on an HTTP refusal. */
  async connect(options: ConnectOptions): Promise<RawDriverClient> {
    const client = await RawDriverClient.open(this.driverUrl, options);
    this.clients.add(client);
    return client;
  }

  /** A GET against the gateway, with a bearer token when given. */
  async get(path: string, token?: string): Promise<HttpResult> {
    const res = await httpRequest(this.port, 'GET', path, token === undefined ? {} : { token });
    return { ...res, contentType: res.headers['content-type'] ?? null };
  }

  /** A GET against the admin listener (no token: it needs none). */
  async adminGet(path: string): Promise<HttpResult> {
    const res = await httpRequest(this.adminPort, 'GET', path, {});
    return { ...res, contentType: res.headers['content-type'] ?? null };
  }

  /** GET /v1/drivers/:id as a service. */
  async driver(driverId: string): Promise<HttpResult> {
    return this.get(`/v1/drivers/${encodeURIComponent(driverId)}`, await this.serviceToken());
  }

  /** /metrics of the admin listener, parsed (for `metricValue` and `metricSum` of kit/metrics-scrape.ts). */
  scrape(): Promise<Scrape> {
    return scrapeMetrics(this.adminPort);
  }

  /** The value of the one series `name` with exactly `labels` (0 when it has no sample yet; see kit's `metricValue`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await this.scrape(), name, labels);
  }

  /** Terminates every client of this gateway and waits until each is closed. */
  async closeClients(): Promise<void> {
    const all = [...this.clients];
    this.clients.clear();
    await Promise.all(all.map((c) => c.terminate()));
  }

  /** Runs `fn` once this gateway has stopped. */
  onStop(fn: () => unknown): void {
    this.stopHooks.push(fn);
  }

  /** Closes the clients, then the gateway, then deletes the keys it owns (idempotent). */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      try {
        await this.closeClients();
        await this.gateway.close();
        if (this.ownKeys) await deleteKeysAt(this.ownKeys.target, this.ownKeys.prefix);
      } finally {
        running.delete(this);
        for (const fn of this.stopHooks.splice(0)) fn();
      }
    })();
    return this.stopped;
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

/** A valid ping (Berlin, now) with `over` applied; coordinates have at most 7 decimals, as stored. */
export function ping(seq: number, over: Record<string, unknown> = {}): { seq: number } & Record<string, unknown> {
  return { seq, lat: 52.52, lng: 13.405, ts: Date.now(), ...over };
}
