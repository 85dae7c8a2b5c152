import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { type Config, envName } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { readPemFile } from '../config/read-pem-file.js';

/** The configuration keys of the gateway's own TLS. */
export type TlsConfig = Pick<Config, 'tlsCertFile' | 'tlsKeyFile' | 'tlsKeyPassphrase' | 'tlsCaFile'>;

/** Where the gateway's certificate lives: read again on every reload, so a rotated file is picked up. */
export interface TlsFiles {
  /** PEM: the server certificate, then its intermediates (a "full chain"). */
  certFile: string;
  /** PEM private key of the certificate, encrypted when `passphrase` is given. */
  keyFile: string;
  passphrase?: string;
  /** PEM of the CA whose client certificates are verified (mutual TLS for internal callers). */
  caFile?: string;
}

/** What a checked certificate is: logged at start and on every reload (no secret in it). */
export interface TlsCertificateInfo {
  /** Hex serial number, as `openssl x509 -serial` prints it. */
  serial: string;
  subject: string;
  validTo: string;
}

/** The TLS files a configuration names, or undefined when TLS is off (load-config checked both or neither). */
export function tlsFilesOf(config: TlsConfig): TlsFiles | undefined {
  if (!config.tlsCertFile) return undefined;
  return {
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    ...(config.tlsKeyPassphrase ? { passphrase: config.tlsKeyPassphrase } : {}),
    ...(config.tlsCaFile ? { caFile: config.tlsCaFile } : {}),
  };
}

function certificate(path: string, key: 'tlsCertFile' | 'tlsCaFile'): X509Certificate {
  const pem = readPemFile(path, key, 'certificate');
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`${envName(key)}: "${path}" holds no PEM certificate (${(err as Error).message})`);
  }
}

/**
 * Reads and checks the files the way the TLS library will use them: the
 * certificate parses, the key opens (with the passphrase), the key belongs
 * to the certificate, the certificate has not expired, and the CA parses.
 * Run before every (re)load, so a half-rotated pair (new certificate, old
 * key) is refused with a message naming the variable, and the gateway keeps
 * serving the pair it has.
 */
export function checkTlsFiles(files: TlsFiles, now = new Date()): TlsCertificateInfo {
  const cert = certificate(files.certFile, 'tlsCertFile');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: readPemFile(files.keyFile, 'tlsKeyFile', 'private key'), ...(files.passphrase ? { passphrase: files.passphrase } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${envName('tlsKeyFile')}: cannot open the private key "${files.keyFile}"${files.passphrase ? ' with HEXFLEET_TLS_KEY_PASSPHRASE' : ''}: ${(err as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(`${envName('tlsKeyFile')}: "${files.keyFile}" is not the private key of the certificate in ${envName('tlsCertFile')} ("${files.certFile}")`);
  }
  if (new Date(cert.validTo) < now) {
    throw new ConfigError(`${envName('tlsCertFile')}: the certificate in "${files.certFile}" expired on ${cert.validTo}`);
  }
  if (files.caFile) certificate(files.caFile, 'tlsCaFile');
  return { serial: cert.serialNumber, subject: cert.subject.replace(/\n/g, ', '), validTo: cert.validTo };
}
