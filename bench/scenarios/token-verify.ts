/**
 * Token verification micro-benchmark: CPU per `TokenService.verify` of a
 * token a client presents again and again (every HTTP request carries its
 * bearer token), without the verified-token cache (what every request paid
 * before it: decode, signature check, claims) and with it (a map lookup,
 * then expiry and revocation), for each algorithm the gateway accepts. Both
 * sides in this process, interleaved round by round, on the same pool of
 * distinct tokens (as many clients), so machine noise hits both alike.
 *
 *   npm run bench:tokens [-- --quick]   (node dist/bench/run.js tokens)
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { JwksKeys } from '../../src/auth/jwks-keys.js';
import { RevocationList } from '../../src/auth/revocation-list.js';
import { TokenService } from '../../src/auth/tokens.js';

/** Distinct tokens cycled through: a gateway's worth of clients, all held by the default cache (10,000). */
const POOL = 1000;
const SECRET = 'bench-secret-0123456789abcdefghijklmnop';
type Alg = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
const ALGS: readonly Alg[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];

interface Side {
  ops: number;
  cpuUs: number;
}

/** Runs `verify` over the pool for about `ms` of wall time; returns verifications and CPU µs spent. */
function measure(service: TokenService, pool: readonly string[], ms: number): Side {
  const cpu0 = process.cpuUsage();
  const end = performance.now() + ms;
  let ops = 0;
  while (performance.now() < end) {
    // 100 per clock read: the clock costs more than a cached verification.
    for (let i = 0; i < 100; i++) service.verify(pool[(ops + i) % POOL], ['service']);
    ops += 100;
  }
  const cpu = process.cpuUsage(cpu0);
  return { ops, cpuUs: cpu.user + cpu.system };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function poolOf(alg: Alg, key: KeyObject | Uint8Array): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (let i = 0; i < POOL; i++) {
    out.push(await new SignJWT({ role: 'service', jti: `j-${i}` })
      .setProtectedHeader(alg === 'HS256' ? { alg } : { alg, kid: `k-${alg}` })
      .setSubject(`svc-${i}`).setIssuedAt(now).setExpirationTime(now + 3600).sign(key));
  }
  return out;
}

/** The markdown table of one run (`rounds` interleaved rounds of `roundMs` per side and algorithm). */
export async function runTokenVerify(o: { rounds: number; roundMs: number }): Promise<string> {
  const dir = mkdtempSync(join(os.tmpdir(), 'hexfleet-bench-tokens-'));
  const log = pino({ level: 'silent' });
  try {
    const keys = {
      RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
      ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      EdDSA: generateKeyPairSync('ed25519'),
    };
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: Object.entries(keys).map(([alg, k]) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: `k-${alg}` })) }));
    const jwks = new JwksKeys({ source: { file }, refreshMs: 3_600_000, minRefreshMs: 60_000, timeoutMs: 1000, onChange: () => {}, log });
    await jwks.start();
    // A few revocations, as a gateway holds them: the cached path looks them up on every call.
    const revocations = new RevocationList();
    for (let i = 0; i < 100; i++) revocations.add({ kind: 'jti', value: `revoked-${i}`, at: Date.now(), until: Date.now() + 3_600_000, keepUntil: Date.now() + 3_600_000, by: 'bench' });
    const make = (cacheSize: number) => new TokenService({ secret: SECRET, jwks, revocations, cacheSize });
    const lines = [
      `Per verification of one of ${POOL.toLocaleString('en-US')} distinct service tokens presented in turn; CPU time of this process (user + system) ÷ verifications, median of ${o.rounds} interleaved rounds of ${o.roundMs} ms per side. Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}; the machine is shared with other engineers' test runs (noisy: compare the ratio, measured in the same run, not the absolute figures).`,
      '',
      '| algorithm | uncached µs CPU / verify | cached µs CPU / verify | uncached verifies/s | cached verifies/s | CPU saved per request |',
      '|---|---|---|---|---|---|',
    ];
    for (const alg of ALGS) {
      const pool = await poolOf(alg, alg === 'HS256' ? new TextEncoder().encode(SECRET) : keys[alg].privateKey);
      const uncached = make(0);
      const cached = make(10_000);
      // Warm-up of both paths (JIT), and every token of the pool in the cache before the clock starts.
      for (const t of pool) {
        uncached.verify(t, ['service']);
        cached.verify(t, ['service']);
      }
      const u: number[] = [];
      const c: number[] = [];
      const uRate: number[] = [];
      const cRate: number[] = [];
      for (let r = 0; r < o.rounds; r++) {
        const a = measure(uncached, pool, o.roundMs);
        const b = measure(cached, pool, o.roundMs);
        u.push(a.cpuUs / a.ops);
        c.push(b.cpuUs / b.ops);
        uRate.push(a.ops / (o.roundMs / 1000));
        cRate.push(b.ops / (o.roundMs / 1000));
      }
      const mu = median(u);
      const mc = median(c);
      lines.push(`| ${alg} | ${mu.toFixed(2)} | ${mc.toFixed(3)} | ${Math.round(median(uRate)).toLocaleString('en-US')} | ${Math.round(median(cRate)).toLocaleString('en-US')} | ${(mu - mc).toFixed(2)} µs (${(mu / mc).toFixed(0)}× less) |`);
    }
    jwks.close();
    return lines.join('\n') + '\n';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
