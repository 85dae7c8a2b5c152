import { type Config, type ConfigKey, configSchema, envName, type OptionSpec } from '../config/config-schema.js';

/** What a secret shows as: whether it is set, never its value or a hash of it (a hash of a weak secret can be brute-forced). */
const SET = '(set)';

/**
 * The configuration for the `config.start` audit entry, by variable name:
 * every option's value, except those the schema marks secret, which show
 * only `(set)` or are left out when unset. URLs lose their user info too
 * (a password can ride in one, e.g. REDIS_URL, already secret anyway).
 */
export function configSnapshot(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema) as ConfigKey[]) {
    const spec: OptionSpec<unknown> = configSchema[key];
    const value = config[key];
    if (spec.secret) {
      if (value !== '' && value !== undefined) out[envName(key)] = SET;
      continue;
    }
    out[envName(key)] = typeof value === 'string' ? value.replace(/\/\/[^/@\s]*@/g, '//') : value;
  }
  return out;
}
