import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL_MISSING =
  'openssl was not found on PATH. hexfleet\'s TLS tests make throwaway certificates with it: install it with ' +
  '`sudo apt-get install -y openssl` (Debian/Ubuntu) or `brew install openssl` (macOS).';

/** A key and certificate as files (PEM), and the certificate's serial as `openssl x509 -serial` prints it. */
export interface IssuedCert {
  certFile: string;
  keyFile: string;
  serial: string;
}

export interface IssueOptions {
  /** Subject CN (default the file name). */
  cn?: string;
  /** Encrypt the key (AES-256) with this passphrase. */
  passphrase?: string;
  /** Days valid (default 2). */
  days?: number;
  /** A client certificate (extendedKeyUsage clientAuth) instead of a server one. */
  client?: boolean;
}

function openssl(args: string[], cwd: string): string {
  try {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(OPENSSL_MISSING);
    throw new Error(`openssl ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
}

/**
 * A throwaway certificate authority in a temp dir of its own, made with the
 * openssl CLI (P-256 keys): server certificates for localhost and
 * 127.0.0.1, client certificates, each with a serial of its own. For tests
 * and benchmarks only: the keys are unencrypted files (unless asked) and
 * cleanup() deletes them.
 */
export class TestCa {
  readonly caFile: string;
  private readonly caKey: string;
  private count = 0;

  private constructor(readonly dir: string, readonly name: string, private readonly owned: boolean) {
    this.caFile = join(dir, `${name}-ca.pem`);
    this.caKey = join(dir, `${name}-ca.key`);
  }

  /** A new CA (its own temp dir unless `dir` is given, which cleanup() then leaves in place). */
  static create(name = 'hexfleet-test', dir?: string): TestCa {
    const ca = new TestCa(dir ?? mkdtempSync(join(tmpdir(), 'hexfleet-certs-')), name, dir === undefined);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.caKey, '-out', ca.caFile,
      '-days', '2', '-subj', `/CN=${name} CA`], ca.dir);
    return ca;
  }

  /** The CA certificate as PEM text. */
  get caPem(): string {
    return readFileSync(this.caFile, 'utf8');
  }

  /** Issues a certificate (server for localhost/127.0.0.1 unless `client`) into `<name>.pem` / `<name>.key`, replacing any before. */
  issue(name: string, o: IssueOptions = {}): IssuedCert {
    const n = ++this.count;
    const certFile = join(this.dir, `${name}.pem`);
    const keyFile = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}-${n}.csr`);
    const ext = join(this.dir, `${name}-${n}.ext`);
    const tmpKey = join(this.dir, `${name}-${n}.key`);
    const tmpCert = join(this.dir, `${name}-${n}.pem`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tmpKey, '-out', csr, '-subj', `/CN=${o.cn ?? name}`], this.dir);
    writeFileSync(ext, o.client
      ? 'extendedKeyUsage=clientAuth\n'
      : 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    // A serial of its own per certificate, so a test can tell which one a handshake got.
    const serial = `0x${Date.now().toString(16)}${n.toString(16).padStart(4, '0')}`;
    openssl(['x509', '-req', '-in', csr, '-CA', this.caFile, '-CAkey', this.caKey, '-set_serial', serial, '-out', tmpCert, '-extfile', ext,
      '-days', String(o.days ?? 2)], this.dir);
    if (o.passphrase) {
      openssl(['pkey', '-in', tmpKey, '-aes256', '-passout', `pass:${o.passphrase}`, '-out', keyFile], this.dir);
    } else {
      writeFileSync(keyFile, readFileSync(tmpKey));
    }
    writeFileSync(certFile, readFileSync(tmpCert));
    for (const f of [csr, ext, tmpKey, tmpCert]) rmSync(f, { force: true });
    const printed = openssl(['x509', '-in', certFile, '-noout', '-serial'], this.dir).trim();
    return { certFile, keyFile, serial: printed.replace(/^serial=/, '') };
  }

  /** Deletes the temp dir with every key and certificate. */
  cleanup(): void {
    if (this.owned) rmSync(this.dir, { recursive: true, force: true });
  }
}
