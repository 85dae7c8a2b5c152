import { configSchema, envName, type Config, type ConfigKey, type OptionSpec } from './config-schema.js';
import { parseRegionEndpoints, REGION_NAME } from './region-endpoints.js';

/** Thrown for any invalid configuration; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const keys = Object.keys(configSchema) as ConfigKey[];

/** `host:port,host:port` (spaces after commas allowed). */
const HOST_PORTS = /^[A-Za-z0-9_.-]+:\d{1,5}(\s*,\s*[A-Za-z0-9_.-]+:\d{1,5})*$/;

/** `host:port,host:port` as ioredis and kafkajs take it. */
export function hostPorts(list: string): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const at = hp.trim().lastIndexOf(':');
    return { host: hp.trim().slice(0, at), port: Number(hp.trim().slice(at + 1)) };
  });
}

function parseValue(key: ConfigKey, raw: string): unknown {
  const spec: OptionSpec<unknown> = configSchema[key];
  const name = envName(key);
  switch (spec.type) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
      const n = Number(raw);
      if (n < (spec.min ?? -Infinity) || n > (spec.max ?? Infinity)) {
        throw new ConfigError(`${name} must be between ${spec.min} and ${spec.max}, got ${n}`);
      }
      return n;
    }
    case 'bool':
      if (/^(1|true|yes)$/i.test(raw)) return true;
      if (/^(0|false|no)$/i.test(raw)) return false;
      throw new ConfigError(`${name} must be true or false, got "${raw}"`);
    case 'enum':
      if (!spec.values?.includes(raw)) {
        throw new ConfigError(`${name} must be one of ${spec.values?.join(', ')}, got "${raw}"`);
      }
      return raw;
    case 'string':
      return raw;
  }
}

/** Checks that span several options. */
function crossCheck(c: Config): void {
  if (c.redisPrefix && !/^[A-Za-z0-9_.:-]{1,64}$/.test(c.redisPrefix)) {
    throw new ConfigError(`${envName('redisPrefix')} may hold only letters, digits and _ . : - (1 to 64), got "${c.redisPrefix}"`);
  }
  if (c.redisUrl && !/^rediss?:\/\//.test(c.redisUrl)) {
    throw new ConfigError(`${envName('redisUrl')} must start with redis:// or rediss://`);
  }
  if (Boolean(c.tlsCertFile) !== Boolean(c.tlsKeyFile)) {
    throw new ConfigError(`${envName('tlsCertFile')} and ${envName('tlsKeyFile')} go together: set both (TLS) or neither`);
  }
  if ((c.tlsCaFile || c.tlsKeyPassphrase) && !c.tlsCertFile) {
    throw new ConfigError(`${envName(c.tlsCaFile ? 'tlsCaFile' : 'tlsKeyPassphrase')} needs ${envName('tlsCertFile')} and ${envName('tlsKeyFile')}`);
  }
  if (Boolean(c.redisTlsCertFile) !== Boolean(c.redisTlsKeyFile)) {
    throw new ConfigError(`${envName('redisTlsCertFile')} and ${envName('redisTlsKeyFile')} go together: set both or neither`);
  }
  const redisKind = selectedStore(c);
  const rediss = c.redisUrl.startsWith('rediss://');
  if (c.redisTls && (redisKind === 'memory' || (redisKind === 'redis' && !rediss))) {
    throw new ConfigError(`${envName('redisTls')} is for the Sentinel and Cluster engines; the redis engine uses TLS with a rediss:// ${envName('redisUrl')}`);
  }
  const redisTlsFile = c.redisTlsCaFile ? 'redisTlsCaFile' : c.redisTlsCertFile ? 'redisTlsCertFile' : undefined;
  if (redisTlsFile && !(redisKind === 'redis' ? rediss : redisKind !== 'memory' && c.redisTls)) {
    throw new ConfigError(`${envName(redisTlsFile)} needs TLS to Redis: a rediss:// ${envName('redisUrl')} (redis engine) or ${envName('redisTls')}=true (Sentinel, Cluster)`);
  }
  if (c.store === 'redis' && !c.redisUrl) {
    throw new ConfigError(`${envName('store')}=redis needs ${envName('redisUrl')}`);
  }
  if (c.store === 'sentinel' && !c.redisSentinels) {
    throw new ConfigError(`${envName('store')}=sentinel needs ${envName('redisSentinels')}`);
  }
  if (c.store === 'cluster' && !c.redisCluster) {
    throw new ConfigError(`${envName('store')}=cluster needs ${envName('redisCluster')}`);
  }
  for (const key of ['redisSentinels', 'redisCluster'] as const) {
    if (c[key] && !HOST_PORTS.test(c[key])) {
      throw new ConfigError(`${envName(key)} must be a comma-separated list of host:port, got "${c[key]}"`);
    }
  }
  if (c.backupDir && !c.backupKeyFile) {
    throw new ConfigError(`${envName('backupDir')} needs ${envName('backupKeyFile')}: backups are always encrypted`);
  }
  if (c.backupIntervalMs > 0 && !c.backupDir) {
    throw new ConfigError(`${envName('backupIntervalMs')} needs ${envName('backupDir')}`);
  }
  if (c.offlineMs < c.staleMs) {
    throw new ConfigError(`${envName('offlineMs')} (${c.offlineMs}) must be at least ${envName('staleMs')} (${c.staleMs})`);
  }
  if (c.retentionMs < c.offlineMs) {
    throw new ConfigError(`${envName('retentionMs')} (${c.retentionMs}) must be at least ${envName('offlineMs')} (${c.offlineMs})`);
  }
  if (c.matchRadiusM > c.nearbyMaxRadiusM) {
    throw new ConfigError(`${envName('matchRadiusM')} (${c.matchRadiusM}) must be at most ${envName('nearbyMaxRadiusM')} (${c.nearbyMaxRadiusM})`);
  }
  if (c.searchLeaseMs <= c.batchWindowMs) {
    throw new ConfigError(`${envName('searchLeaseMs')} (${c.searchLeaseMs}) must exceed ${envName('batchWindowMs')} (${c.batchWindowMs}): a batched order is owned while it waits`);
  }
  if (c.opsTileUrl && (!/^https?:\/\//.test(c.opsTileUrl) || !['{z}', '{x}', '{y}'].every((p) => c.opsTileUrl.includes(p)))) {
    throw new ConfigError(`${envName('opsTileUrl')} must be an http:// or https:// URL with {z}, {x} and {y} in it, got "${c.opsTileUrl.slice(0, 100)}"`);
  }
  if (c.osrmUrl && !/^https?:\/\//.test(c.osrmUrl)) {
    throw new ConfigError(`${envName('osrmUrl')} must start with http:// or https://`);
  }
  if (c.kafkaBrokers && !HOST_PORTS.test(c.kafkaBrokers)) {
    throw new ConfigError(`${envName('kafkaBrokers')} must be a comma-separated list of host:port, got "${c.kafkaBrokers}"`);
  }
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(c.kafkaTopicPrefix)) {
    throw new ConfigError(`${envName('kafkaTopicPrefix')} may hold only letters, digits and . _ - (1 to 100), got "${c.kafkaTopicPrefix}"`);
  }
  if (c.kafkaSaslMechanism !== 'none' && (!c.kafkaSaslUsername || !c.kafkaSaslPassword)) {
    throw new ConfigError(`${envName('kafkaSaslMechanism')}=${c.kafkaSaslMechanism} needs ${envName('kafkaSaslUsername')} and ${envName('kafkaSaslPassword')}`);
  }
  if (c.webhookUrl && !/^https?:\/\//.test(c.webhookUrl)) {
    throw new ConfigError(`${envName('webhookUrl')} must start with http:// or https://`);
  }
  if (c.webhookUrl && !c.kafkaBrokers) {
    throw new ConfigError(`${envName('webhookUrl')} needs ${envName('kafkaBrokers')}: notifications are delivered from the event log`);
  }
  if (c.webhookUrl && c.webhookSecret.length < 32) {
    throw new ConfigError(`${envName('webhookUrl')} needs ${envName('webhookSecret')} of at least 32 characters (the receiver checks the HMAC signature with it)`);
  }
  if (c.webhookBackoffMaxMs < c.webhookBackoffMs) {
    throw new ConfigError(`${envName('webhookBackoffMaxMs')} (${c.webhookBackoffMaxMs}) must be at least ${envName('webhookBackoffMs')} (${c.webhookBackoffMs})`);
  }
  if (c.trustedProxies && !c.trustedProxies.split(',').every((a) => /^[0-9A-Fa-f:.]{2,45}$/.test(a.trim()))) {
    throw new ConfigError(`${envName('trustedProxies')} must be a comma-separated list of IP addresses, got "${c.trustedProxies}"`);
  }
  if (c.region && !REGION_NAME.test(c.region)) {
    throw new ConfigError(`${envName('region')} may hold only letters, digits, _ and - (1 to 64), got "${c.region}"`);
  }
  if (c.replicateFrom) {
    const sources = c.replicateFrom.split(',').map((r) => r.trim());
    const bad = sources.find((r) => !REGION_NAME.test(r));
    if (bad !== undefined) throw new ConfigError(`${envName('replicateFrom')} must be region names (letters, digits, _ and -) separated by commas, got "${bad}"`);
    if (!c.region) throw new ConfigError(`${envName('replicateFrom')} needs ${envName('region')}: records of this region are told from the others' by it`);
    if (sources.includes(c.region)) throw new ConfigError(`${envName('replicateFrom')} names this gateway's own region "${c.region}": a region never replicates from itself`);
    if (new Set(sources).size !== sources.length) throw new ConfigError(`${envName('replicateFrom')} names a region twice: "${c.replicateFrom}"`);
    if (!c.kafkaBrokers) throw new ConfigError(`${envName('replicateFrom')} needs ${envName('kafkaBrokers')}: the other regions arrive through this region's Kafka`);
  }
  if (c.regionEndpoints) {
    if (!c.region) throw new ConfigError(`${envName('regionEndpoints')} needs ${envName('region')}: the gateway must know which of the regions is its own`);
    try {
      parseRegionEndpoints(c.regionEndpoints);
    } catch (err) {
      throw new ConfigError(`${envName('regionEndpoints')} must be name=https://host:port,...: ${(err as Error).message}`);
    }
  }
  if (c.jwtSecret && c.jwtSecret.length < 32) {
    throw new ConfigError(`${envName('jwtSecret')} must be at least 32 characters (HS256 needs a 256-bit key)`);
  }
  if (c.jwksUrl && c.jwksFile) throw new ConfigError(`${envName('jwksUrl')} and ${envName('jwksFile')} are exclusive: set one`);
  if (c.jwksUrl && !/^https?:\/\//.test(c.jwksUrl)) throw new ConfigError(`${envName('jwksUrl')} must start with http:// or https://`);
  if (!/^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*$/.test(c.mfaAmr)) {
    throw new ConfigError(`${envName('mfaAmr')} must be a comma-separated list of amr values (e.g. mfa,otp,hwk), got "${c.mfaAmr}"`);
  }
}

/**
 * Reads the configuration from an environment. Unknown `HEXFLEET_*`
 * variables are an error, so a typo never silently falls back to a default.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = {} as Record<ConfigKey, unknown>;
  for (const key of keys) {
    const raw = env[envName(key)];
    config[key] = raw === undefined || raw === '' ? configSchema[key].default : parseValue(key, raw);
  }
  const known = new Set(keys.map(envName));
  const unknown = Object.keys(env).filter((v) => v.startsWith('HEXFLEET_') && !known.has(v));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown variable ${unknown.join(', ')}; see hexfleet --help for the list`);
  }
  crossCheck(config as Config);
  return config as Config;
}

/**
 * A gateway verifies tokens with HEXFLEET_JWT_SECRET, a JWKS, or both: with
 * neither it cannot accept anyone. Not in crossCheck because the commands
 * that never verify a token (reconcile, backup, dlq) run without either.
 */
export function requireTokenKeys(c: Pick<Config, 'jwtSecret' | 'jwksUrl' | 'jwksFile'>): void {
  if (!c.jwtSecret && !c.jwksUrl && !c.jwksFile) {
    throw new ConfigError(`${envName('jwtSecret')} (at least 32 characters) or ${envName('jwksUrl')} / ${envName('jwksFile')} is required; see hexfleet --help`);
  }
}

/** The store that a configuration selects (throws on none: crossCheck did). */
export function selectedStore(c: Pick<Config, 'store' | 'redisUrl' | 'redisSentinels' | 'redisCluster'>): 'memory' | 'redis' | 'sentinel' | 'cluster' {
  if (c.store !== 'auto') return c.store;
  if (c.redisCluster) return 'cluster';
  if (c.redisSentinels) return 'sentinel';
  return c.redisUrl ? 'redis' : 'memory';
}

/** The `--help` table: every variable with its default and meaning. */
export function configHelp(): string {
  return keys
    .map((key) => {
      const spec: OptionSpec<unknown> = configSchema[key];
      const def = spec.secret ? '(unset)' : JSON.stringify(spec.default);
      const range = spec.type === 'int' ? ` [${spec.min}..${spec.max}]` : spec.values ? ` {${spec.values.join('|')}}` : '';
      return `  ${envName(key).padEnd(34)} ${spec.doc}\n  ${''.padEnd(34)} default ${def}${range}`;
    })
    .join('\n');
}
