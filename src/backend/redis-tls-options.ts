import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config/config-schema.js';
import { selectedStore } from '../config/load-config.js';
import { readPemFile } from '../config/read-pem-file.js';

/** The configuration keys of TLS to Redis. */
export type RedisTlsConfig = Pick<Config, 'redisUrl' | 'redisTls' | 'redisTlsCaFile' | 'redisTlsCertFile' | 'redisTlsKeyFile'>
  & Partial<Pick<Config, 'store' | 'redisSentinels' | 'redisCluster'>>;

/**
 * The TLS options every connection to Redis takes (ioredis `tls`: Node's
 * `tls.connect` options), or undefined for plaintext. TLS is on with a
 * `rediss://` URL (redis engine) or `HEXFLEET_REDIS_TLS=true` (Sentinel and
 * Cluster engines: data nodes and Sentinels alike); load-config refused the
 * TLS files without it. The server's certificate is verified against the CA
 * file (else the system CAs) and its name against the host connected to; a
 * client certificate is shown when the server asks (`tls-auth-clients`).
 * Reads the files: a `ConfigError` names the variable.
 */
export function redisTlsOptions(config: RedisTlsConfig): ConnectionOptions | undefined {
  const kind = selectedStore({ store: 'auto', redisSentinels: '', redisCluster: '', ...config });
  const on = kind === 'redis' ? config.redisUrl.startsWith('rediss://') : kind !== 'memory' && config.redisTls;
  if (!on) return undefined;
  return {
    ...(config.redisTlsCaFile ? { ca: readPemFile(config.redisTlsCaFile, 'redisTlsCaFile') } : {}),
    ...(config.redisTlsCertFile
      ? { cert: readPemFile(config.redisTlsCertFile, 'redisTlsCertFile'), key: readPemFile(config.redisTlsKeyFile, 'redisTlsKeyFile', 'private key') }
      : {}),
  };
}
