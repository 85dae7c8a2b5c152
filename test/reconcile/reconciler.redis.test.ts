import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { latLngToCell } from 'h3-js';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DriverStore } from '../../src/geo/driver-store.js';
import type { OrderStore } from '../../src/orders/order-store.js';
import { bucketOf, RECORD } from '../../src/backend/redis/redis-layout.js';
import { unusedFixedPort } from '../../kit/free-port.js';
import { openTestBackend } from '../support/backends.js';
import { redisIndexTamper } from '../support/index-tamper.js';
import { RedisServer } from '../support/redis-server.js';
import { type ReconcileCase, RECONCILE_TIMING, offeredTo, orderDoc, reconcilerSuite } from './reconciler.suite.js';

/** One redis-server for the file; every case gets its own stores under a fresh key prefix. */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

const LONG_MS = 10 * 60_000;

/** Opens a driver store and an order store on one connection under a fresh prefix, as createDispatch wires them. */
async function openStores(): Promise<{ drivers: DriverStore; orders: OrderStore; prefix: string; admin: Redis; cleanup: () => Promise<void> }> {
  const t = await openTestBackend('redis', { redisUrl: server.url, timing: RECONCILE_TIMING });
  return { drivers: t.backend.drivers, orders: t.backend.orders, prefix: t.prefix, admin: t.admin!, cleanup: () => t.cleanup() };
}

/** The connection and versioned prefix of the case running now, for the cases that write keys by hand. */
let raw: { redis: Redis; kp: string };

/** Keys written by hand with ioredis, as a manual edit or a half-applied restore leaves them. */
const BY_HAND: ReconcileCase[] = [
  {
    name: 'by hand: a reservation key SET for an order that is cancelled',
    arrange: async (w) => {
      await w.commitNew(orderDoc(w.t0, 'o1', 'cancelled'), { deadline: null });
      await raw.redis.set(`${raw.kp}res:d9`, 'o1 999', 'PX', LONG_MS);
    },
    expect: { reservations: [1, 1] },
    after: async () => expect(await raw.redis.exists(`${raw.kp}res:d9`)).toBe(0),
  },
  {
    name: 'by hand: an expired offer ZREMed from the due set (nobody else near: it fails)',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.commitNew(offeredTo(w.t0, 'o1', 'd1', { offerExpiresAt: w.t0 - 1 }), { reserve: 'd1', deadline: w.t0 - 1 });
      expect(await raw.redis.zrem(`${raw.kp}o:due`, 'o1')).toBe(1);
    },
    expect: { stuckOrders: [1, 1] },
    after: async (w) => {
      expect(await w.orders.get('o1')).toMatchObject({ state: 'failed', failReason: 'no_driver' });
      expect(await raw.redis.exists(`${raw.kp}res:d1`)).toBe(0);
      expect(await raw.redis.zscore(`${raw.kp}o:due`, 'o1')).toBeNull();
    },
  },
  {
    name: 'by hand: the driver record of an accepted order rewritten with an old fix (its entry now disagrees too)',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.accept(await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS }));
      const key = `${raw.kp}r:${bucketOf('d1')}`;
      const rec = (await raw.redis.hgetBuffer(key, 'd1'))!;
      rec.writeDoubleLE(w.t0 - RECONCILE_TIMING.offlineMs - 1, RECORD.byName.ts.offset);
      await raw.redis.hset(key, 'd1', rec);
    },
    expect: { silentDrivers: [1, 1], cellIndex: [1, 1] },
    after: async (w) => {
      expect(await w.orders.get('o1')).toMatchObject({ state: 'accepted', driverId: 'd1' });
      expect(w.events).toMatchObject([{ type: 'assignment.driver_silent', orderId: 'o1', driverId: 'd1', reason: 'silent_past_offline' }]);
    },
  },
  {
    name: 'by hand: the driver record of an accepted order deleted (its cell entry is now a stray)',
    arrange: async (w) => {
      await w.putDriver('d1');
      await w.accept(await w.commitNew(offeredTo(w.t0, 'o1', 'd1'), { reserve: 'd1', deadline: w.t0 + LONG_MS }));
      expect(await raw.redis.hdel(`${raw.kp}r:${bucketOf('d1')}`, 'd1')).toBe(1);
    },
    expect: { silentDrivers: [1, 1], cellIndex: [1, 1] },
    after: async (w) => {
      expect(w.events).toMatchObject([{ type: 'assignment.driver_silent', orderId: 'o1', driverId: 'd1', reason: 'no_driver_record' }]);
      expect(await w.drivers.nearby(52.52, 13.405, 500, { limit: 5, includeStale: true }, w.t0)).toEqual([]);
    },
  },
];

reconcilerSuite('Redis stores', async () => {
  const { drivers, orders, prefix, admin, cleanup } = await openStores();
  raw = { redis: admin, kp: `${prefix}:v1:` };
  return { orders, drivers, tamper: redisIndexTamper(admin, `${prefix}:v1:`), cleanup };
}, BY_HAND);

describe('hexfleet reconcile (the CLI against a real Redis)', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  const children = new Set<ChildProcessWithoutNullStreams>();
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all([...children].map((child) => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      return exited;
    }));
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** Runs `node dist/src/cli.js …` (built by the global setup) with only `env` configuring hexfleet. */
  function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('HEXFLEET_') && !['PORT', 'REDIS_URL', 'UWS_USE_FALLBACK'].includes(k)) base[k] = v;
    }
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/src/cli.js', ...args], { cwd: ROOT, env: { ...base, ...env } });
      children.add(child);
      child.once('exit', () => children.delete(child));
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('repairs what it finds and prints the report as JSON, then as a table with nothing left', async () => {
    const { admin, prefix, cleanup } = await openStores();
    cleanups.push(cleanup);
    const kp = `${prefix}:v1:`;
    await admin.set(`${kp}res:d1`, 'o-missing 7', 'PX', LONG_MS);
    await redisIndexTamper(admin, kp).addEntry(latLngToCell(52.52, 13.405, 9), 'ghost');
    const env = { REDIS_URL: server.url, HEXFLEET_REDIS_PREFIX: prefix, HEXFLEET_LOG_LEVEL: 'warn' };

    const first = await cli(['reconcile', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(report).toEqual({
      reservations: { found: 1, fixed: 1 },
      stuckOrders: { found: 0, fixed: 0 },
      silentDrivers: { found: 0, flagged: 0 },
      cellIndex: { found: 1, fixed: 1 },
      durationMs: expect.any(Number),
    });
    expect(first.stderr).toContain('released a reservation no open order holds');
    expect(await admin.exists(`${kp}res:d1`)).toBe(0);

    const second = await cli(['reconcile'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^check\s+found\s+action\n/);
    expect(second.stdout).toMatch(/^reservations\s+0\s+0 released$/m);
    expect(second.stdout).toMatch(/^cell index\s+0\s+0 repaired$/m);
    expect(second.stdout).toMatch(/^nothing to repair; took \d+ ms$/m);
  });

  it('refuses with exit 2 on the memory store, where there is nothing shared to reconcile', async () => {
    const r = await cli(['reconcile'], {});
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^hexfleet: reconcile repairs the state gateways share in Redis; set REDIS_URL\./);
  });

  it('fails with exit 1 when Redis cannot be reached, and an unknown option is a usage error', async () => {
    const down = await cli(['reconcile'], { REDIS_URL: `redis://127.0.0.1:${await unusedFixedPort()}` });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/Redis not ready after \d+ ms/);
    const usage = await cli(['reconcile', '--jsno'], { REDIS_URL: server.url });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Unknown option '--jsno'");
  });

  it('is in --help', async () => {
    const help = await cli(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('hexfleet reconcile [--json]');
  });
});
