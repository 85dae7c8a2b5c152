import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import os from 'node:os';
import { GatewayProcess } from '../../kit/gateway-process.js';
import { TestCa } from '../../kit/test-certs.js';
import { Histogram } from '../lib/histogram.js';
import { cpuSeconds } from '../lib/proc-stats.js';
import { gitState } from '../lib/git-state.js';

/**
 * What the gateway's own TLS costs (issue 11): two gateway processes on the
 * memory store, one plain and one with HEXFLEET_TLS_CERT_FILE (P-256
 * certificate), measured in the same run in interleaved rounds:
 *
 *   keep-alive   `connections` closed loops of GET /healthz on kept-alive
 *                connections (http:// vs https://): the record-layer cost
 *   handshake    2 closed loops of connect + GET /healthz + close (a new TLS
 *                handshake per request): the handshake cost
 *
 * Reported per side: requests/s, latency p50/p99 (load generator's view) and
 * the gateway's CPU per request (utime + stime of its process), with the
 * TLS ÷ plain ratio of CPU per request, the figure that does not depend on
 * this process's own client cost.
 */
export interface TlsCostOptions {
  rounds: number;
  roundMs: number;
  connections: number;
}

type Side = 'plain' | 'tls';
type Workload = 'keep-alive' | 'handshake';

interface Tally {
  requests: number;
  ms: number;
  cpuS: number;
  errors: number;
  latency: Histogram;
}

const SECRET = 'bench-tls-secret-0123456789abcdefghijkl';

export async function runTlsCost(o: TlsCostOptions): Promise<string> {
  const ca = TestCa.create('bench-tls');
  const cert = ca.issue('gateway');
  const env = { HEXFLEET_STORE: 'memory', HEXFLEET_JWT_SECRET: SECRET, HEXFLEET_LOG_LEVEL: 'warn' };
  const gateways: Record<Side, GatewayProcess | undefined> = { plain: undefined, tls: undefined };
  try {
    gateways.plain = await GatewayProcess.start({ name: 'plain', env });
    gateways.tls = await GatewayProcess.start({
      name: 'tls', env: { ...env, HEXFLEET_TLS_CERT_FILE: cert.certFile, HEXFLEET_TLS_KEY_FILE: cert.keyFile }, tlsCa: ca.caPem,
    });
    const tallies = new Map<string, Tally>();
    const tally = (w: Workload, s: Side): Tally => {
      const key = `${w}/${s}`;
      let t = tallies.get(key);
      if (!t) tallies.set(key, (t = { requests: 0, ms: 0, cpuS: 0, errors: 0, latency: new Histogram() }));
      return t;
    };
    const keepAlive = { plain: new HttpAgent({ keepAlive: true, maxSockets: o.connections }), tls: new HttpsAgent({ keepAlive: true, maxSockets: o.connections, ca: ca.caPem }) };
    for (let r = 0; r < o.rounds; r++) {
      // Alternate which side goes first, so a drift of the machine's load during a round hits both alike.
      const order: Side[] = r % 2 === 0 ? ['plain', 'tls'] : ['tls', 'plain'];
      for (const w of ['keep-alive', 'handshake'] as const) {
        for (const side of order) {
          const gw = gateways[side]!;
          await measure(tally(w, side), gw.child.pid!, o.roundMs, w === 'keep-alive' ? o.connections : 2, () =>
            get(side, gw.port, w === 'keep-alive' ? keepAlive[side] : false, ca.caPem));
        }
      }
    }
    keepAlive.plain.destroy();
    keepAlive.tls.destroy();
    return table(tallies, o);
  } finally {
    await Promise.all([gateways.plain?.stop(), gateways.tls?.stop()]);
    ca.cleanup();
  }
}

/** `loops` closed loops of `call` for `ms`; the gateway's CPU over the same window. */
async function measure(t: Tally, pid: number, ms: number, loops: number, call: () => Promise<number>): Promise<void> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: loops }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      const status = await call().catch(() => 0);
      if (status !== 200) t.errors++;
      else {
        t.requests++;
        t.latency.record(performance.now() - s);
      }
    }
  }));
  t.ms += performance.now() - t0;
  t.cpuS += cpuSeconds(pid) - cpu0;
}

function get(side: Side, port: number, agent: HttpAgent | HttpsAgent | false, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    };
    const options = { host: '127.0.0.1', port, path: '/healthz', agent };
    const req = side === 'tls'
      ? httpsRequest({ ...options, ca, servername: 'localhost', agent: agent as HttpsAgent | false }, onResponse)
      : httpRequest({ ...options, agent: agent as HttpAgent | false }, onResponse);
    req.on('error', reject);
    req.end();
  });
}

function table(tallies: Map<string, Tally>, o: TlsCostOptions): string {
  const rows: string[] = [];
  for (const w of ['keep-alive', 'handshake'] as const) {
    const perReqUs = (s: Side): number => {
      const t = tallies.get(`${w}/${s}`)!;
      return (t.cpuS * 1e6) / Math.max(1, t.requests);
    };
    for (const s of ['plain', 'tls'] as const) {
      const t = tallies.get(`${w}/${s}`)!;
      const ratio = s === 'tls' ? `${(perReqUs('tls') / perReqUs('plain')).toFixed(2)}×` : '1.00× (baseline)';
      rows.push(`| ${w} | ${s === 'tls' ? 'https (TLS 1.3)' : 'http'} | ${Math.round((t.requests * 1000) / t.ms).toLocaleString('en-US')} | ${t.latency.percentile(0.5).toFixed(3)} | ${t.latency.percentile(0.99).toFixed(3)} | ${perReqUs(s).toFixed(1)} | ${ratio} | ${t.errors} |`);
    }
  }
  return [
    '| workload | side | requests/s | p50 ms | p99 ms | gateway CPU µs/request | CPU ratio | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `GET /healthz on two gateway processes (memory store; one plain, one with a P-256 certificate), ${o.rounds} interleaved rounds of ${o.roundMs} ms per side and workload: ` +
      `keep-alive = ${o.connections} closed loops on kept-alive connections; handshake = 2 closed loops, a new connection (and TLS handshake) per request. ` +
      'Requests/s and latency are the load generator\'s view (Node\'s http/https client in the bench process, itself the bottleneck on 2 cores); ' +
      'the gateway\'s CPU per request (utime + stime ÷ requests) and its ratio are the figures to compare. ' +
      `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${gitState()}; the machine is shared with other engineers' test runs ` +
      `(load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end: noisy, compare the ratios of the same run).`,
    '',
  ].join('\n');
}
