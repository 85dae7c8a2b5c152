import { readFileSync } from 'node:fs';
import { type ConfigKey, envName } from './config-schema.js';
import { ConfigError } from './load-config.js';

/** What a PEM file named by an option must hold. */
export type PemKind = 'certificate' | 'private key';

const MARKER: Record<PemKind, RegExp> = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  'private key': /-----BEGIN (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----/,
};

/**
 * Reads a PEM file named by a configuration option (a CA, a certificate, a
 * key); a `ConfigError` names the variable when the file cannot be read or
 * holds no PEM block of that kind. The content is never part of a message.
 */
export function readPemFile(path: string, key: ConfigKey, kind: PemKind = 'certificate'): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    const what = kind === 'private key' ? 'key' : /Ca(File)?$/.test(key) ? 'CA' : 'certificate';
    throw new ConfigError(`${envName(key)}: cannot read the ${what} file "${path}": ${(err as Error).message}`);
  }
  if (!MARKER[kind].test(pem)) throw new ConfigError(`${envName(key)}: "${path}" holds no PEM ${kind}`);
  return pem;
}
