import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type * as UWS from 'uWebSockets.js';
import type { AppOptions, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { checkTlsFiles, type TlsCertificateInfo, type TlsFiles } from './tls-files.js';

export interface TlsListenerOptions {
  host: string;
  /** 0 picks a free port (reloads keep the one picked). */
  port: number;
  /** Serve https:// and wss:// with these files; undefined: plain http:// and ws://. */
  tls?: TlsFiles;
  /** How often the TLS files are checked for a change (stat polling); 0: only on SIGHUP. */
  watchIntervalMs: number;
  /** Registers every route and WebSocket behaviour on an app; called once per app, and a reload builds a new app. */
  mount: (app: TemplatedApp) => void;
  registry: Registry;
}

/**
 * TLS 1.2 suites: forward-secret AEAD only (Mozilla's "intermediate" list).
 * BoringSSL's default also takes the CBC-SHA1 suites; TLS 1.3 suites are
 * fixed by BoringSSL (AES-GCM, ChaCha20-Poly1305) and not affected.
 */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Several writes of one rotation (certificate, then key) within this long are one reload. */
const SETTLE_MS = 200;

/**
 * The gateway's listen socket: plain, or TLS (uWebSockets.js `SSLApp`) with
 * certificates that reload without a restart.
 *
 * TLS versions: the binding's TLS library (BoringSSL in usockets) refuses
 * anything below TLS 1.2 and offers 1.2 and 1.3; no setting is needed and
 * none is exposed. TLS 1.2 is limited to ECDHE AEAD suites (TLS12_CIPHERS). With a CA file, client certificates are requested and
 * verified: one not signed by the CA ends the handshake; a client without a
 * certificate is still admitted (the binding neither requires one nor tells
 * the application whether one was shown), and authenticates with its token.
 *
 * Reload (SIGHUP, or a changed file): the new pair is checked first (a
 * half-written rotation is refused and logged, the old pair stays), then a
 * new `SSLApp` with every route is listening on the same port (usockets
 * listens with SO_REUSEPORT) before the old listen socket closes. Open
 * connections stay on the app that accepted them, with the certificate
 * they shook hands with; every new handshake gets the new one. An old app
 * is kept until close(): uWS tells nothing of when its last socket ends
 * (a few kilobytes per reload).
 */
export class TlsListener {
  private readonly apps: TemplatedApp[] = [];
  private listenSocket: us_listen_socket | undefined;
  private current: TlsCertificateInfo | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private settleTimer: NodeJS.Timeout | undefined;
  private stopWatching = (): void => {};
  private readonly reloads: Counter<'outcome'>;
  private readonly notAfter: Gauge;

  private constructor(
    private readonly uws: typeof UWS,
    private readonly o: TlsListenerOptions,
    private readonly log: Logger,
    /** The port actually bound (the one picked for port 0). */
    public port: number,
  ) {
    this.reloads = new Counter({
      name: 'hexfleet_tls_reloads_total',
      help: 'TLS certificate reloads (SIGHUP or a changed file): ok, or refused (the files did not check; the previous certificate stays).',
      labelNames: ['outcome'],
      registers: [o.registry],
    });
    this.notAfter = new Gauge({
      name: 'hexfleet_tls_certificate_not_after_seconds',
      help: 'Expiry (Unix time) of the certificate new TLS handshakes get: alert well before it.',
      registers: [o.registry],
    });
  }

  /** Checks the TLS files (a `ConfigError` naming the variable), builds the app, listens; watches the files when TLS is on. */
  static async open(uws: typeof UWS, o: TlsListenerOptions, log: Logger): Promise<TlsListener> {
    const listener = new TlsListener(uws, o, log, o.port);
    // usockets sets SO_REUSEPORT only on a socket bound to a port number: with port 0, take a free port's
    // number first, so that a reload can listen beside it.
    if (o.tls && o.port === 0) listener.port = await listener.freePort();
    await listener.swapIn();
    if (o.tls) listener.watch(o.tls);
    return listener;
  }

  /** https/wss or http/ws. */
  get secure(): boolean {
    return this.o.tls !== undefined;
  }

  /** The certificate new handshakes get (undefined without TLS). */
  get certificate(): TlsCertificateInfo | undefined {
    return this.current;
  }

  /**
   * Loads the TLS files again and serves new connections with them. Rejects
   * (`ConfigError` naming the variable) when they do not check, and then the
   * certificate in use stays. Calls run one after another.
   */
  reload(): Promise<TlsCertificateInfo> {
    const run = this.reloading.then(async () => {
      try {
        await this.swapIn();
        this.reloads.inc({ outcome: 'ok' });
        this.log.info({ tls: this.current }, 'TLS certificate reloaded: new connections get it, open ones keep theirs');
        return this.current!;
      } catch (err) {
        this.reloads.inc({ outcome: 'refused' });
        this.log.error({ err: (err as Error).message, tls: this.current }, 'TLS reload refused: still serving the previous certificate');
        throw err;
      }
    });
    this.reloading = run.catch(() => undefined);
    return run;
  }

  /** Stops accepting connections and watching the files; open connections stay. */
  stopListening(): void {
    this.stopWatching();
    clearTimeout(this.settleTimer);
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
  }

  /** Closes every connection of every app (after stopListening). */
  closeApps(): void {
    // close() is in the 20.30 binding but missing from its type definitions.
    for (const app of this.apps.splice(0)) (app as TemplatedApp & { close(): void }).close();
  }

  private async swapIn(): Promise<void> {
    const tls = this.o.tls;
    const info = tls ? checkTlsFiles(tls) : undefined;
    const app = tls ? this.uws.SSLApp(appOptions(tls)) : this.uws.App();
    this.o.mount(app);
    let socket: us_listen_socket;
    try {
      socket = await new Promise<us_listen_socket>((resolve, reject) => {
        app.listen(this.o.host, this.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${this.o.host}:${this.port}`))));
      });
    } catch (err) {
      (app as TemplatedApp & { close(): void }).close();
      throw err;
    }
    const old = this.listenSocket;
    this.listenSocket = socket;
    this.apps.push(app);
    this.port = this.uws.us_socket_local_port(socket);
    if (old) this.uws.us_listen_socket_close(old);
    this.current = info;
    if (info) this.notAfter.set(Math.floor(new Date(info.validTo).getTime() / 1000));
  }

  private async freePort(): Promise<number> {
    const app = this.uws.App();
    const socket = await new Promise<us_listen_socket>((resolve, reject) => {
      app.listen(this.o.host, 0, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${this.o.host}:0`))));
    });
    const port = this.uws.us_socket_local_port(socket);
    this.uws.us_listen_socket_close(socket);
    (app as TemplatedApp & { close(): void }).close();
    return port;
  }

  private watch(tls: TlsFiles): void {
    const later = (): void => {
      clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => void this.reload().catch(() => {}), SETTLE_MS);
      this.settleTimer.unref();
    };
    const onHup = (): void => later();
    process.on('SIGHUP', onHup);
    const files = [tls.certFile, tls.keyFile, ...(tls.caFile ? [tls.caFile] : [])];
    const onChange = (now: { mtimeMs: number; ino: number }, before: { mtimeMs: number; ino: number }): void => {
      // A rename over the path (atomic replace, a Kubernetes secret's symlink swap) changes the inode; an edit the mtime.
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) later();
    };
    if (this.o.watchIntervalMs > 0) {
      for (const f of files) watchFile(f, { interval: this.o.watchIntervalMs, persistent: false }, onChange);
    }
    this.stopWatching = () => {
      process.off('SIGHUP', onHup);
      for (const f of files) unwatchFile(f, onChange);
    };
  }
}

function appOptions(tls: TlsFiles): AppOptions {
  return {
    cert_file_name: tls.certFile,
    key_file_name: tls.keyFile,
    ssl_ciphers: TLS12_CIPHERS,
    ...(tls.passphrase ? { passphrase: tls.passphrase } : {}),
    ...(tls.caFile ? { ca_file_name: tls.caFile } : {}),
  };
}
