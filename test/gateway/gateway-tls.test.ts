import { copyFileSync, readFileSync, renameSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestCa } from '../../kit/test-certs.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { DriverClient } from '../../src/sdk/index.js';
import { BASE_ENV, TestGateway, stopAllGateways, uniqueDriverId } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { closeAllSdkClients, collectErrors, driverClient } from '../sdk/sdk-harness.js';

/**
 * The gateway's own TLS (issue 11), through the real interfaces: https://
 * with Node's TLS client, wss:// with the SDK, certificates from a
 * throwaway CA made by openssl. No services: the memory engine.
 */

const ca = TestCa.create('gw');
const otherCa = TestCa.create('other');
afterAll(() => {
  ca.cleanup();
  otherCa.cleanup();
});
afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
});

function tlsEnv(cert: { certFile: string; keyFile: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { HEXFLEET_TLS_CERT_FILE: cert.certFile, HEXFLEET_TLS_KEY_FILE: cert.keyFile, ...extra };
}

/** One TLS handshake: resolves with the server certificate's serial and the protocol, or rejects with the handshake error. */
function handshake(port: number, options: ConnectionOptions = {}): Promise<{ serial: string; protocol: string | null; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.caPem, servername: 'localhost', ...options }, () => {
      resolve({ serial: socket.getPeerCertificate().serialNumber, protocol: socket.getProtocol(), socket });
    });
    socket.once('error', reject);
  });
}

async function serialOf(port: number): Promise<string> {
  const h = await handshake(port);
  h.socket.destroy();
  return h.serial;
}

/**
 * serialOf while a reload may be swapping the listen sockets: undefined for a
 * connection reset. Linux resets a connection queued on the old listen socket,
 * not yet accepted, when that socket closes (docs/security.md; clients
 * reconnect, net.ipv4.tcp_migrate_req=1 moves them instead).
 */
async function serialDuringReload(port: number): Promise<string | undefined> {
  return serialOf(port).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') return undefined;
    throw err;
  });
}

/** An HTTPS GET with the test CA; `options` adds a client certificate. */
function httpsGet(port: number, path: string, options: { cert?: string; key?: string; agent?: false } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: ca.caPem, servername: 'localhost', agent: false, ...options }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** An HTTP/1.1 GET on an open TLS socket (keep-alive): the status line of the answer. */
function getOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (/\r\n\r\n/.test(text)) {
        socket.off('data', onData);
        resolve(text.split('\r\n')[0]!);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

function wssDriver(g: TestGateway, token: string, extra: Partial<ConstructorParameters<typeof DriverClient>[0]> = {}): DriverClient {
  return driverClient({ urls: [`wss://localhost:${g.port}/v1/driver`], token, ca: ca.caPem, batchMaxDelayMs: 0, ...extra });
}

async function ackedPing(c: DriverClient, seq: number): Promise<void> {
  c.ping({ lat: 52.52 + seq * 1e-5, lng: 13.405 });
  await waitFor(() => c.lastAckedSeq === seq, { what: `ack of ping ${seq} over wss (last acked ${c.lastAckedSeq})` });
}

describe('gateway TLS configuration', () => {
  it('takes a certificate and a key together or neither, and a CA or passphrase only with them', () => {
    expect(() => loadConfig({ ...BASE_ENV, HEXFLEET_TLS_CERT_FILE: '/x.pem' })).toThrow(
      new ConfigError('HEXFLEET_TLS_CERT_FILE and HEXFLEET_TLS_KEY_FILE go together: set both (TLS) or neither'),
    );
    expect(() => loadConfig({ ...BASE_ENV, HEXFLEET_TLS_KEY_FILE: '/x.key' })).toThrow(/^HEXFLEET_TLS_CERT_FILE and HEXFLEET_TLS_KEY_FILE go together/);
    expect(() => loadConfig({ ...BASE_ENV, HEXFLEET_TLS_CA_FILE: ca.caFile })).toThrow(
      new ConfigError('HEXFLEET_TLS_CA_FILE needs HEXFLEET_TLS_CERT_FILE and HEXFLEET_TLS_KEY_FILE'),
    );
  });

  it('takes Redis TLS files only where TLS to Redis is on, and names what is missing', () => {
    const redis = { ...BASE_ENV, HEXFLEET_STORE: 'redis' };
    expect(() => loadConfig({ ...redis, REDIS_URL: 'redis://127.0.0.1:6379', HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile })).toThrow(
      new ConfigError('HEXFLEET_REDIS_TLS_CA_FILE needs TLS to Redis: a rediss:// REDIS_URL (redis engine) or HEXFLEET_REDIS_TLS=true (Sentinel, Cluster)'),
    );
    expect(() => loadConfig({ ...redis, REDIS_URL: 'redis://127.0.0.1:6379', HEXFLEET_REDIS_TLS: 'true' })).toThrow(
      new ConfigError('HEXFLEET_REDIS_TLS is for the Sentinel and Cluster engines; the redis engine uses TLS with a rediss:// REDIS_URL'),
    );
    expect(() => loadConfig({ ...redis, REDIS_URL: 'rediss://127.0.0.1:6379', HEXFLEET_REDIS_TLS_CERT_FILE: '/c.pem' })).toThrow(
      new ConfigError('HEXFLEET_REDIS_TLS_CERT_FILE and HEXFLEET_REDIS_TLS_KEY_FILE go together: set both or neither'),
    );
    const cluster = { ...BASE_ENV, HEXFLEET_STORE: 'cluster', HEXFLEET_REDIS_CLUSTER: '127.0.0.1:7000' };
    expect(() => loadConfig({ ...cluster, HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile })).toThrow(/^HEXFLEET_REDIS_TLS_CA_FILE needs TLS to Redis/);
    expect(loadConfig({ ...cluster, HEXFLEET_REDIS_TLS: 'true', HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile }).redisTls).toBe(true);
    expect(loadConfig({ ...redis, REDIS_URL: 'rediss://127.0.0.1:6379', HEXFLEET_REDIS_TLS_CA_FILE: ca.caFile }).redisTlsCaFile).toBe(ca.caFile);
  });

  it('refuses to start on files that do not make a pair, naming the variable', async () => {
    const a = ca.issue('pair-a');
    const b = ca.issue('pair-b');
    await expect(TestGateway.start(tlsEnv({ certFile: a.certFile, keyFile: b.keyFile }))).rejects.toThrow(
      /^HEXFLEET_TLS_KEY_FILE: ".*pair-b\.key" is not the private key of the certificate in HEXFLEET_TLS_CERT_FILE/,
    );
    await expect(TestGateway.start(tlsEnv({ certFile: join(ca.dir, 'missing.pem'), keyFile: a.keyFile }))).rejects.toThrow(
      /^HEXFLEET_TLS_CERT_FILE: cannot read the certificate file ".*missing\.pem"/,
    );
    await expect(TestGateway.start(tlsEnv({ certFile: a.keyFile, keyFile: a.keyFile }))).rejects.toThrow(/^HEXFLEET_TLS_CERT_FILE: ".*" holds no PEM certificate/);
    const locked = ca.issue('locked', { passphrase: 'correct horse battery' });
    await expect(TestGateway.start(tlsEnv(locked, { HEXFLEET_TLS_KEY_PASSPHRASE: 'wrong' }))).rejects.toThrow(
      /^HEXFLEET_TLS_KEY_FILE: cannot open the private key ".*locked\.key" with HEXFLEET_TLS_KEY_PASSPHRASE/,
    );
  });

  it('serves with an encrypted key and its passphrase', async () => {
    const locked = ca.issue('locked-ok', { passphrase: 'correct horse battery' });
    const g = await TestGateway.start(tlsEnv(locked, { HEXFLEET_TLS_KEY_PASSPHRASE: 'correct horse battery' }));
    expect(await httpsGet(g.port, '/healthz')).toMatchObject({ status: 200 });
  });
});

describe('https:// and wss:// from the gateway', () => {
  it('answers https with the configured certificate, and no plain http on the same port', async () => {
    const cert = ca.issue('serve');
    const g = await TestGateway.start(tlsEnv(cert));
    expect(g.gateway.listener.secure).toBe(true);
    expect(await httpsGet(g.port, '/healthz')).toMatchObject({ status: 200 });
    expect(await serialOf(g.port)).toBe(cert.serial);
    // A client that does not trust the CA refuses the gateway.
    await expect(handshake(g.port, { ca: otherCa.caPem })).rejects.toThrow(/unable to verify|self.signed|certificate/i);
    // Plain HTTP on the TLS port gets no HTTP answer.
    const plain = await fetch(`http://127.0.0.1:${g.port}/healthz`).then((r) => r.status, (err: Error) => err.message);
    expect(plain).not.toBe(200);
  });

  it('speaks TLS 1.2 and 1.3 and refuses 1.1 and 1.0 with a protocol_version alert, and TLS 1.2 without forward-secret AEAD', async () => {
    const g = await TestGateway.start(tlsEnv(ca.issue('versions')));
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const h = await handshake(g.port, { minVersion: v, maxVersion: v });
      h.socket.destroy();
      expect(h.protocol).toBe(v);
    }
    for (const v of ['TLSv1.1', 'TLSv1'] as const) {
      // SECLEVEL=0 lets this client offer the old version at all: the refusal is then the server's (its alert).
      await expect(handshake(g.port, { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toThrow(/alert protocol version/);
    }
    await expect(handshake(g.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA' })).rejects.toThrow(/handshake failure/);
    const aead = await handshake(g.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
    aead.socket.destroy();
    expect(aead.protocol).toBe('TLSv1.2');
  });

  it('carries a driver stream over wss:// with the SDK, trusting the CA given as an option', async () => {
    const g = await TestGateway.start(tlsEnv(ca.issue('wss')));
    const id = uniqueDriverId();
    const c = wssDriver(g, await g.token('driver', id));
    await ackedPing(c, 1);
    await ackedPing(c, 2);
    // Without the CA, the platform's CA store does not know the gateway: no connection.
    const untrusted = driverClient({ urls: [`wss://localhost:${g.port}/v1/driver`], token: await g.token('driver', uniqueDriverId()) });
    const errors = collectErrors(untrusted);
    await waitFor(() => errors.length > 0, { what: 'the untrusted connection to fail' });
    expect(untrusted.state).not.toBe('open');
    expect(errors[0]).toMatchObject({ code: 'tls_failed', retry: true });
    expect(errors[0]!.message).toMatch(/^TLS to wss:\/\/localhost:\d+\/v1\/driver failed: .*certificate.* \(a private CA\? pass options\.ca\)$/);
  });

  it('rejects a CA option that is not PEM, and one without a WebSocket class that takes it', () => {
    expect(() => new DriverClient({ urls: ['wss://localhost:1/v1/driver'], token: 't', WebSocket, ca: 'not a certificate' })).toThrow(
      new TypeError('ca must be a PEM certificate (-----BEGIN CERTIFICATE-----) or an array of them'),
    );
    expect(() => new DriverClient({ urls: ['wss://localhost:1/v1/driver'], token: 't', ca: ca.caPem })).toThrow(/^ca needs options\.WebSocket/);
  });
});

describe('certificate reload without a restart', () => {
  it('on SIGHUP: new handshakes get the new certificate; open connections and streams keep going', async () => {
    const first = ca.issue('hup');
    const g = await TestGateway.start(tlsEnv(first, { HEXFLEET_TLS_WATCH_INTERVAL_MS: '0' }));
    const port = g.port;
    expect(await serialOf(port)).toBe(first.serial);
    const kept = await handshake(port);
    expect(await getOn(kept.socket, '/healthz')).toBe('HTTP/1.1 200 OK');
    const c = wssDriver(g, await g.token('driver', uniqueDriverId()));
    await ackedPing(c, 1);
    let reconnects = 0;
    c.on('state', (s) => s === 'connecting' && reconnects++);

    const second = ca.issue('hup'); // same paths, new key and certificate
    expect(second.serial).not.toBe(first.serial);
    process.kill(process.pid, 'SIGHUP');
    await waitFor(async () => (await serialDuringReload(port)) === second.serial, { what: 'a new handshake to get the new certificate' });

    expect(g.gateway.listener.certificate?.serial).toBe(second.serial);
    expect(g.port).toBe(port);
    // The connection opened before the reload still answers, with the certificate it shook hands with.
    expect(await getOn(kept.socket, '/healthz')).toBe('HTTP/1.1 200 OK');
    expect(kept.socket.getPeerCertificate().serialNumber).toBe(first.serial);
    kept.socket.destroy();
    await ackedPing(c, 2);
    expect(reconnects).toBe(0);
    expect(await g.metric('hexfleet_tls_reloads_total', { outcome: 'ok' })).toBe(1);
  });

  it('on a file change (an atomic rename, as a secret mount does), without a signal', async () => {
    const first = ca.issue('watched');
    const g = await TestGateway.start(tlsEnv(first, { HEXFLEET_TLS_WATCH_INTERVAL_MS: '50' }));
    expect(await serialOf(g.port)).toBe(first.serial);
    const next = ca.issue('watched-next');
    copyFileSync(next.keyFile, `${first.keyFile}.tmp`);
    copyFileSync(next.certFile, `${first.certFile}.tmp`);
    renameSync(`${first.keyFile}.tmp`, first.keyFile);
    renameSync(`${first.certFile}.tmp`, first.certFile);
    await waitFor(async () => (await serialDuringReload(g.port)) === next.serial, { what: 'the rotated certificate to be served' });
    expect(await httpsGet(g.port, '/healthz')).toMatchObject({ status: 200 });
  });

  it('refuses a half-rotated pair and keeps serving the certificate it has', async () => {
    const first = ca.issue('half');
    const g = await TestGateway.start(tlsEnv(first, { HEXFLEET_TLS_WATCH_INTERVAL_MS: '0' }));
    const stray = ca.issue('stray');
    copyFileSync(stray.certFile, first.certFile); // the certificate is new, the key is still the old one
    await expect(g.gateway.listener.reload()).rejects.toThrow(/^HEXFLEET_TLS_KEY_FILE: .* is not the private key of the certificate/);
    expect(await serialOf(g.port)).toBe(first.serial);
    expect(await g.metric('hexfleet_tls_reloads_total', { outcome: 'refused' })).toBe(1);
    copyFileSync(stray.keyFile, first.keyFile); // the rotation completes
    expect((await g.gateway.listener.reload()).serial).toBe(stray.serial);
    expect(await serialOf(g.port)).toBe(stray.serial);
  });
});

describe('client certificates (HEXFLEET_TLS_CA_FILE)', () => {
  it('admits a client certificate the CA signed, refuses one it did not, and admits a client without one', async () => {
    const g = await TestGateway.start(tlsEnv(ca.issue('mtls'), { HEXFLEET_TLS_CA_FILE: ca.caFile }));
    const good = ca.issue('internal-caller', { client: true });
    const forged = otherCa.issue('forged-caller', { client: true });
    const read = (c: { certFile: string; keyFile: string }) => ({ cert: readFileSync(c.certFile, 'utf8'), key: readFileSync(c.keyFile, 'utf8') });
    expect(await httpsGet(g.port, '/healthz', read(good))).toMatchObject({ status: 200 });
    await expect(httpsGet(g.port, '/healthz', read(forged))).rejects.toThrow(/alert|unknown ca|ECONNRESET|socket hang up/i);
    // The binding requests a certificate but does not require one (see TlsListener): tokens still decide.
    expect(await httpsGet(g.port, '/healthz')).toMatchObject({ status: 200 });
  });
});
