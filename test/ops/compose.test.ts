import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mm2Properties } from '../../kit/mirror-maker.js';
import { REPO_ROOT } from '../../kit/repo-root.js';
import { configSchema, type ConfigKey, envName } from '../../src/config/config-schema.js';
import { loadConfig, requireTokenKeys } from '../../src/config/load-config.js';
import { parseRegionEndpoints } from '../../src/config/region-endpoints.js';

/**
 * docker-compose.yml cannot run on these machines (no Docker), so this test
 * keeps it consistent instead: every service restarts by itself; every
 * HEXFLEET_* variable a gateway gets exists in the config schema and the
 * gateway's whole environment passes loadConfig, in every profile and with
 * the variables the file's own comments tell users to set; host ports do not
 * collide within a profile; depends_on names services that run in the same
 * profiles; every Redis requires the password its clients send and never
 * evicts; the `regions` profile's gateways name each other (region,
 * replicate-from, endpoints, their own Redis and Kafka) and its MirrorMaker
 * configuration is the one kit/mirror-maker.ts runs in the tests.
 */

const FILE = join(REPO_ROOT, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  profiles?: string[];
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { published?: string | number; target?: number; host_ip?: string })[];
  depends_on?: string[] | Record<string, { condition?: string; required?: boolean }>;
  configs?: (string | { source: string; target?: string })[];
  [key: string]: unknown;
}

interface ComposeFile {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string; file?: string }>;
  volumes?: Record<string, unknown>;
}

/** The host variables a user sets, as the file's header shows (the rest take their defaults). */
const HOST_ENV: Readonly<Record<string, string>> = {
  HEXFLEET_JWT_SECRET: 'compose-test-secret-0123456789abcdefghij',
};

const compose = parse(readFileSync(FILE, 'utf8'), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);

/**
 * Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:?error}, ${VAR?error}, $VAR and $$ (a literal $). Throws for a
 * required variable that is unset, with compose's message.
 */
function interpolate(value: string, host: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (whole === '$$') return '$';
      if (bare !== undefined) return host[bare] ?? '';
      const v = host[name!];
      const unset = v === undefined || (colon === ':' && v === '');
      if (op === '-') return unset ? arg! : v!;
      if (op === '?') {
        if (unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return v!;
      }
      return v ?? '';
    });
}

/** A service's environment as the container gets it. */
function environmentOf(s: Service, host: Readonly<Record<string, string>> = HOST_ENV): Record<string, string> {
  const out: Record<string, string> = {};
  const entries: [string, string][] = Array.isArray(s.environment)
    ? s.environment.map((e) => {
      const eq = e.indexOf('=');
      return eq < 0 ? [e, host[e] ?? ''] : [e.slice(0, eq), e.slice(eq + 1)];
    })
    : Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? host[k] ?? '' : String(v)]);
  for (const [k, v] of entries) out[k] = interpolate(v, host);
  return out;
}

function argv(x: string[] | string | undefined, host: Readonly<Record<string, string>> = HOST_ENV): string[] {
  if (x === undefined) return [];
  return (Array.isArray(x) ? x : x.split(/\s+/)).map((a) => interpolate(String(a), host));
}

const profiles = [...new Set(services.flatMap(([, s]) => s.profiles ?? []))].sort();

/** The services `docker compose --profile <profile> up` starts (undefined: no profile). */
function activeIn(profile: string | undefined): string[] {
  return services.filter(([, s]) => !s.profiles || (profile !== undefined && s.profiles.includes(profile))).map(([n]) => n);
}

/** hexfleet gateways: the services built from this repository. */
const gateways = services.filter(([, s]) => s.build !== undefined);

function dependsOn(s: Service): { name: string; required: boolean }[] {
  if (!s.depends_on) return [];
  if (Array.isArray(s.depends_on)) return s.depends_on.map((name) => ({ name, required: true }));
  return Object.entries(s.depends_on).map(([name, d]) => ({ name, required: d?.required !== false }));
}

/** Published host ports of a service, as `ip:port` ('*' for every interface). */
function hostPorts(s: Service): string[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return `${p.host_ip ?? '*'}:${String(p.published)}`;
    const parts = interpolate(String(p), HOST_ENV).split(':');
    if (parts.length === 1) throw new Error(`port "${p}" publishes a random host port: name it`);
    return parts.length === 3 ? `${parts[0]}:${parts[1]}` : `*:${parts[0]}`;
  });
}

/** A Java properties text (key=value lines, `\\` for a backslash) as a map. */
function properties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    out.set(t.slice(0, eq).trim(), t.slice(eq + 1).trim().replace(/\\(.)/g, '$1'));
  }
  return out;
}

/** The value following `flag` in a command line. */
function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

const schemaEnvNames = new Set((Object.keys(configSchema) as ConfigKey[]).map(envName));

describe('docker-compose.yml', () => {
  it('parses, has services and the sentinel, kafka and regions profiles', () => {
    expect(services.length).toBeGreaterThan(0);
    expect(profiles).toEqual(expect.arrayContaining(['kafka', 'regions', 'sentinel']));
  });

  it('every service restarts by itself (restart: unless-stopped, always or on-failure)', () => {
    const without = services.filter(([, s]) => !['unless-stopped', 'always', 'on-failure'].includes(String(s.restart ?? 'no'))).map(([n]) => n);
    expect(without, 'services without a restart policy').toEqual([]);
  });

  it('every HEXFLEET_* variable of every gateway is in the config schema, and each gateway\'s environment loads', () => {
    expect(gateways.length).toBeGreaterThan(0);
    for (const [name, s] of gateways) {
      const env = environmentOf(s);
      const unknown = Object.keys(env).filter((k) => k.startsWith('HEXFLEET_') && !schemaEnvNames.has(k));
      expect(unknown, `${name}: HEXFLEET_* variables not in src/config/config-schema.ts`).toEqual([]);
      const config = loadConfig(env);
      requireTokenKeys(config);
    }
  });

  it('the variables the header tells users to set load too, and name services of the same profile', () => {
    const hexfleet = compose.services.hexfleet!;
    const modes: { profile: string; host: Record<string, string>; names: (c: ReturnType<typeof loadConfig>) => string[] }[] = [
      { profile: 'kafka', host: { HEXFLEET_KAFKA_BROKERS: 'kafka:9092' }, names: (c) => c.kafkaBrokers.split(',') },
      { profile: 'sentinel', host: { HEXFLEET_REDIS_SENTINELS: 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379' }, names: (c) => c.redisSentinels.split(',') },
    ];
    const header = readFileSync(FILE, 'utf8').split('\n').filter((l) => l.startsWith('#')).join('\n');
    for (const { profile, host, names } of modes) {
      for (const [k, v] of Object.entries(host)) expect(header, `the header shows ${k}=${v}`).toContain(`${k}=${v}`);
      const config = loadConfig(environmentOf(hexfleet, { ...HOST_ENV, ...host }));
      const active = activeIn(profile);
      for (const hostPort of names(config)) expect(active, `${hostPort} with --profile ${profile}`).toContain(hostPort.split(':')[0]);
      if (profile === 'sentinel') expect(config.redisPassword, 'the Sentinel engine authenticates to the data nodes').not.toBe('');
    }
  });

  it('host ports do not collide within any profile', () => {
    for (const profile of [undefined, ...profiles]) {
      const seen = new Map<string, string>();
      for (const name of activeIn(profile)) {
        for (const hp of hostPorts(compose.services[name]!)) {
          const port = hp.split(':').pop()!;
          const clash = [...seen].find(([k]) => k.split(':').pop() === port && (k.startsWith('*:') || hp.startsWith('*:') || k === hp));
          expect(clash, `--profile ${profile ?? '(none)'}: ${name} publishes ${hp}, as ${clash?.[1]} does`).toBeUndefined();
          seen.set(hp, name);
        }
      }
    }
  });

  it('depends_on names existing services that run whenever the dependent does (unless required: false)', () => {
    for (const [name, s] of services) {
      for (const d of dependsOn(s)) {
        expect(compose.services[d.name], `${name} depends on ${d.name}`).toBeDefined();
        if (!d.required) continue;
        for (const profile of [undefined, ...profiles]) {
          if (activeIn(profile).includes(name)) expect(activeIn(profile), `${name} needs ${d.name} with --profile ${profile ?? '(none)'}`).toContain(d.name);
        }
      }
    }
  });

  it('every volume and config a service uses is declared', () => {
    for (const [name, s] of services) {
      for (const v of (s.volumes as string[] | undefined) ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes, `${name}'s volume ${source}`).toHaveProperty(source);
      }
      for (const c of s.configs ?? []) expect(compose.configs, `${name}'s config`).toHaveProperty(typeof c === 'string' ? c : c.source);
    }
  });

  it('every Redis requires a password, never evicts, and its clients send that password', () => {
    const redises = services.filter(([, s]) => argv(s.command ?? s.entrypoint)[0] === 'redis-server');
    expect(redises.length).toBeGreaterThan(0);
    const passwordOf = new Map<string, string>();
    for (const [name, s] of redises) {
      const args = argv(s.command);
      expect(flagValue(args, '--maxmemory-policy'), `${name}'s maxmemory-policy`).toBe('noeviction');
      expect(flagValue(args, '--maxmemory'), `${name}'s maxmemory`).toMatch(/^\d+(kb|mb|gb)?$/i);
      const pw = flagValue(args, '--requirepass');
      expect(pw, `${name}'s requirepass`).toBeTruthy();
      passwordOf.set(name, pw!);
      const primary = flagValue(args, '--replicaof');
      if (primary !== undefined) expect(flagValue(args, '--masterauth'), `${name} authenticates to ${primary}`).toBe(passwordOf.get(primary));
      // The health check authenticates with the same password, from the service's environment.
      expect(environmentOf(s).REDIS_PASSWORD, `${name}'s REDIS_PASSWORD (its health check)`).toBe(pw);
    }
    for (const [name, s] of gateways) {
      const url = new URL(environmentOf(s).REDIS_URL!);
      expect(passwordOf.has(url.hostname), `${name}'s REDIS_URL names a Redis service`).toBe(true);
      expect(decodeURIComponent(url.password), `${name}'s REDIS_URL password`).toBe(passwordOf.get(url.hostname));
      const sentinelPw = environmentOf(s).HEXFLEET_REDIS_PASSWORD;
      if (sentinelPw !== undefined) expect(sentinelPw, `${name}'s HEXFLEET_REDIS_PASSWORD`).toBe(passwordOf.get(url.hostname));
    }
  });

  describe('the regions profile', () => {
    // Read inside the tests: an environment that does not load fails them, not the collection of the file.
    const regionalGateways = () => gateways.filter(([, s]) => s.profiles?.includes('regions')).map(([name, s]) => ({ name, service: s, config: loadConfig(environmentOf(s)) }));

    it('has two or more regions, one gateway each, and their own Redis and Kafka', () => {
      const regional = regionalGateways();
      const regionNames = regional.map((g) => g.config.region);
      expect(regional.length).toBeGreaterThanOrEqual(2);
      expect(new Set(regionNames).size, 'one gateway per region').toBe(regional.length);
      const redisHosts = regional.map((g) => new URL(g.config.redisUrl).hostname);
      const kafkaHosts = regional.map((g) => g.config.kafkaBrokers.split(':')[0]);
      expect(new Set(redisHosts).size, 'a Redis per region').toBe(regional.length);
      expect(new Set(kafkaHosts).size, 'a Kafka per region').toBe(regional.length);
      for (const host of [...redisHosts, ...kafkaHosts]) expect(activeIn('regions')).toContain(host);
      for (const g of regional) {
        const deps = dependsOn(g.service).map((d) => d.name);
        expect(deps, `${g.name} waits for its Redis and Kafka`).toEqual(expect.arrayContaining([new URL(g.config.redisUrl).hostname, g.config.kafkaBrokers.split(':')[0]!]));
      }
    });

    it('each region replicates from every other, and every gateway lists every region at the gateway that serves it', () => {
      const regional = regionalGateways();
      const regionNames = regional.map((g) => g.config.region);
      for (const g of regional) {
        const from = g.config.replicateFrom.split(',').map((r) => r.trim()).filter(Boolean).sort();
        expect(from, `${g.name}'s HEXFLEET_REPLICATE_FROM`).toEqual(regionNames.filter((r) => r !== g.config.region).sort());
        const endpoints = parseRegionEndpoints(g.config.regionEndpoints);
        expect([...endpoints.keys()].sort(), `${g.name}'s HEXFLEET_REGION_ENDPOINTS`).toEqual([...regionNames].sort());
        for (const [region, urls] of endpoints) {
          const serving = regional.find((x) => x.config.region === region)!;
          for (const u of urls) {
            const url = new URL(u);
            expect(url.hostname, `${g.name}: region ${region}'s endpoint`).toBe(serving.name);
            expect(Number(url.port), `${g.name}: region ${region}'s endpoint port`).toBe(serving.config.port);
            // The same port inside and outside, so the advertised URL works from the host too (with the /etc/hosts line).
            expect(hostPorts(serving.service), `${serving.name} publishes ${url.port}`).toContain(`*:${url.port}`);
          }
        }
      }
    });

    it('MirrorMaker 2: kit/mirror-maker.ts\'s configuration for these regions, one process per target region', () => {
      const regional = regionalGateways();
      const regionNames = regional.map((g) => g.config.region);
      const mirrors = services.filter(([, s]) => s.profiles?.includes('regions') && argv(s.command)[0]?.endsWith('connect-mirror-maker.sh'));
      const targets = mirrors.map(([, s]) => flagValue(argv(s.command), '--clusters')).sort();
      expect(targets, 'one MirrorMaker per region, each with the flows into it').toEqual([...regionNames].sort());
      const prefixes = new Set(regional.map((g) => g.config.kafkaTopicPrefix));
      expect(prefixes.size, 'one topic prefix in every region').toBe(1);
      const prefix = [...prefixes][0]!;
      const expected = properties(mm2Properties({
        clusters: regional.map((g) => ({ alias: g.config.region, brokers: g.config.kafkaBrokers })),
        topics: `${prefix.replace(/[.-]/g, (c) => `\\${c}`)}\\..*`,
      }));
      for (const [name, s] of mirrors) {
        const args = argv(s.command);
        const file = args[1]!;
        const mounted = (s.configs ?? []).find((c) => typeof c === 'object' && c.target === file);
        expect(mounted, `${name} mounts ${file}`).toBeDefined();
        const content = compose.configs?.[(mounted as { source: string }).source]?.content;
        expect(content, `${name}'s mm2.properties`).toBeDefined();
        const actual = properties(content!);
        expect(Object.fromEntries([...actual].sort()), `${name}'s mm2.properties against kit/mirror-maker.ts`).toEqual(Object.fromEntries([...expected].sort()));
        // Each mirror waits for both clusters it reads from and writes to.
        expect(dependsOn(s).map((d) => d.name).sort()).toEqual(regional.map((g) => g.config.kafkaBrokers.split(':')[0]!).sort());
      }
    });
  });
});
