import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { unusedFixedPort } from './free-port.js';
import { GatewayProcess } from './gateway-process.js';
import { KafkaBroker } from './kafka-broker.js';
import { MirrorMaker } from './mirror-maker.js';
import { RedisServer } from './redis-server.js';

/** What every region of a {@link RegionSet} shares: the deployment's names, secret and gateway settings. */
export interface RegionSetOptions {
  /** Region names, e.g. ['a', 'b']; each is also its Kafka cluster's MirrorMaker alias. */
  names: readonly string[];
  /** Data of every process (one sub-directory per region), kept across a loss so a region returns with its data. */
  dir: string;
  /** HEXFLEET_JWT_SECRET of every gateway (one deployment: a token of one region is good in the other). */
  jwtSecret: string;
  /** Gateways per region, all on the region's one Redis and one Kafka (default 2). */
  gatewaysPerRegion?: number;
  /** HEXFLEET_KAFKA_TOPIC_PREFIX (also the MirrorMaker topic filter) and HEXFLEET_REDIS_PREFIX. */
  prefix: string;
  /** More gateway settings (HEXFLEET_*), the same in every region. */
  env?: Record<string, string>;
  /** Gateway output goes to `<dir>/<region>/<gateway>.log` (a benchmark keeps it); default: in memory. */
  gatewayLogs?: boolean;
}

/**
 * One region of a two-region (or more) deployment on one machine: its own
 * redis-server (AOF), its own single-node Kafka, N gateways on fixed ports
 * (HEXFLEET_REGION, HEXFLEET_REPLICATE_FROM every other region,
 * HEXFLEET_REGION_ENDPOINTS every region's gateways), and its INBOUND
 * MirrorMaker 2 (flows other → this region; MM2's recommended layout: the
 * mirror runs in the target region, consumes remotely, produces locally).
 *
 *   region a                              region b
 *   gw a1, a2 ─▶ redis a, kafka a ──mirror in b (a->b)──▶ kafka b ─▶ applier in gw b1, b2 ─▶ redis b
 *   redis a ◀─ applier ◀─ kafka a ◀──mirror in a (b->a)── kafka b ◀─ gw b1, b2
 *
 * lose(): SIGKILL of every process of the region (gateways, mirror, Kafka,
 * Redis): nothing runs a shutdown hook, the data directories stay.
 * restore(): Redis from its AOF, Kafka from its log dir, the gateways on the
 * same ports, the mirror (it resumes from the offsets it committed in this
 * region's Kafka).
 */
export class Region {
  readonly gateways: GatewayProcess[] = [];
  mirror: MirrorMaker | undefined;
  private lost = false;

  constructor(
    readonly name: string,
    readonly redis: RedisServer,
    readonly kafka: KafkaBroker,
    readonly ports: readonly { port: number; adminPort: number }[],
    private readonly set: RegionSet,
  ) {}

  /** Public base URLs of its gateways. */
  get endpoints(): string[] {
    return this.ports.map((p) => `http://127.0.0.1:${p.port}`);
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** The environment of this region's gateways. */
  gatewayEnv(): Record<string, string> {
    const o = this.set.options;
    return {
      HEXFLEET_STORE: 'redis',
      REDIS_URL: this.redis.url,
      HEXFLEET_REDIS_PREFIX: o.prefix,
      HEXFLEET_JWT_SECRET: o.jwtSecret,
      HEXFLEET_KAFKA_BROKERS: this.kafka.brokers,
      HEXFLEET_KAFKA_TOPIC_PREFIX: o.prefix,
      HEXFLEET_REGION: this.name,
      HEXFLEET_REPLICATE_FROM: o.names.filter((n) => n !== this.name).join(','),
      HEXFLEET_REGION_ENDPOINTS: this.set.endpointsVariable,
      HEXFLEET_LOG_LEVEL: 'warn',
      ...o.env,
    };
  }

  /**
   * Starts every gateway not running (on its fixed ports), one after the
   * other: two starting at once race to create the same topics and double
   * the start's load on a busy machine. Resolves once each answers /readyz 200.
   */
  async startGateways(): Promise<void> {
    const o = this.set.options;
    const dir = join(o.dir, this.name);
    for (const [i, { port, adminPort }] of this.ports.entries()) {
      if (this.gateways[i]?.running) continue;
      const name = `gateway-${this.name}${i + 1}`;
      this.gateways[i] = await GatewayProcess.start({
        name, env: this.gatewayEnv(), port, adminPort, ...(o.gatewayLogs ? { logFile: join(dir, `${name}.log`) } : {}),
      });
    }
  }

  /** Starts its inbound mirror (every other region → this one); resolves once MirrorMaker logged that it started. */
  async startMirror(): Promise<void> {
    const all = this.set.regions;
    this.mirror = await MirrorMaker.start({
      clusters: all.map((r) => ({ alias: r.name, brokers: r.kafka.brokers })),
      topics: `${this.set.options.prefix.replace(/[.-]/g, (c) => `\\${c}`)}\\..*`,
      targets: [this.name],
    });
  }

  /** The region is lost: SIGKILL of its gateways, its mirror, its Kafka and its Redis, all at once. */
  async lose(): Promise<void> {
    this.lost = true;
    await Promise.all([...this.gateways.map((g) => g.kill9()), this.mirror?.kill(), this.kafka.kill(), this.redis.kill()]);
  }

  /** The region returns: Redis from its AOF, Kafka from its log dir, then the gateways on their ports and the mirror. */
  async restore(): Promise<void> {
    await Promise.all([this.redis.launch(), this.kafka.restart()]);
    await this.startGateways();
    await this.startMirror();
    this.lost = false;
  }
}

/**
 * Two or more {@link Region}s on one machine. start() brings up every
 * region's Redis and Kafka and reserves its gateways' ports (the endpoints
 * must be known before any gateway starts); the caller then starts gateways
 * and mirrors in the order its scenario needs (a drill puts its clients in
 * one region by starting the other's gateways after they connected).
 */
export class RegionSet {
  readonly regions: Region[] = [];
  /** HEXFLEET_REGION_ENDPOINTS of every gateway: `a=http://…,a=http://…,b=…`. */
  endpointsVariable = '';

  private constructor(readonly options: RegionSetOptions) {}

  static async start(options: RegionSetOptions): Promise<RegionSet> {
    const set = new RegionSet(options);
    try {
      for (const name of options.names) {
        const dir = join(options.dir, name);
        mkdirSync(dir, { recursive: true });
        const [redis, kafka] = await Promise.all([
          RedisServer.start({ dir: mkdirSync(join(dir, 'redis'), { recursive: true }) ?? join(dir, 'redis') }),
          KafkaBroker.start({ dataDir: join(dir, 'kafka') }),
        ]);
        const ports: { port: number; adminPort: number }[] = [];
        for (let i = 0; i < (options.gatewaysPerRegion ?? 2); i++) ports.push({ port: await unusedFixedPort(), adminPort: await unusedFixedPort() });
        set.regions.push(new Region(name, redis, kafka, ports, set));
      }
    } catch (err) {
      await set.stop();
      throw err;
    }
    set.endpointsVariable = set.regions.flatMap((r) => r.endpoints.map((e) => `${r.name}=${e}`)).join(',');
    return set;
  }

  region(name: string): Region {
    const r = this.regions.find((x) => x.name === name);
    if (!r) throw new Error(`no region ${name} (regions: ${this.regions.map((x) => x.name).join(', ')})`);
    return r;
  }

  /** Every region's base URLs, in region order: what an SDK is given as `endpoints`. */
  get endpoints(): string[] {
    return this.regions.flatMap((r) => r.endpoints);
  }

  /** Stops every process of every region (gateways first, then mirrors, then Kafka and Redis). */
  async stop(): Promise<void> {
    await Promise.all(this.regions.map((r) => Promise.all(r.gateways.map((g) => g.stop()))));
    await Promise.all(this.regions.map((r) => r.mirror?.stop()));
    await Promise.all(this.regions.flatMap((r) => [r.kafka.stop(), r.redis.stop()]));
  }
}
