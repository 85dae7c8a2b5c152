/**
 * bench:backup: what backing up and restoring a fleet costs. A Redis filled
 * with N parked drivers through RedisDriverStore (bench:ingest's memory
 * scenario's loader: one ping each over 50 metros), then, each timed as an
 * operator runs it (`node dist/src/cli.js backup …`, its own process):
 *
 *   create   SCAN + DUMP + PTTL, encrypted to a file         ÷ redis-cli --rdb of the same Redis
 *   verify   the whole file read back and authenticated
 *   restore  into a second, empty redis-server (AOF on)      ÷ the same RDB loaded by a fresh redis-server
 *
 * plus the size on disk ÷ the RDB's. The restored Redis is then compared
 * key by key (DUMP bytes) with the source: a fast restore that restored
 * something else would be no figure.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { track } from '../../kit/child-processes.js';
import { RedisServer } from '../../kit/redis-server.js';
import { CLI_PATH, REPO_ROOT } from '../../kit/repo-root.js';
import type { BackupManifest } from '../../src/backup/backup-manifest.js';
import type { RestoreSummary } from '../../src/backup/restore-backup.js';
import type { Progress } from '../lib/clock.js';
import type { MemoryLoadConfig, MemoryLoadResult } from '../lib/messages.js';
import { CLK_TCK, CpuWindow } from '../lib/proc-stats.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import { fmtInt, fmtPct, type Row } from '../lib/report.js';
import { type Message, Worker } from '../lib/worker.js';

const run = promisify(execFile);
const PHASE = 'B backup';
/** The production default prefix: key names are part of what a backup holds. */
const PREFIX = 'hf';
const SEED = 0xb4c0;
/** The ingest memory scenario's load shape: 1,000 drivers per Lua call, 4 calls in flight. */
const DRIVERS_PER_CALL = 1000;
const INFLIGHT = 4;
/** Any one step of 1,000,000 drivers takes seconds here; ten minutes is a hang. */
const STEP_TIMEOUT_MS = 10 * 60_000;

export interface BackupBenchContext {
  options: { drivers: number; metroSideKm: number; h3Resolution: number; waitQuietS: number };
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
}

interface Timed<T> {
  result: T;
  wallS: number;
  /** % of one core over the step, by process name. */
  cpu: Map<string, number>;
  othersPct: number;
}

export async function runBackupBench(ctx: BackupBenchContext): Promise<Row[]> {
  const { drivers } = ctx.options;
  const source = ctx.redis;
  ctx.progress.log(PHASE, `FLUSHALL, then loading ${fmtInt(drivers)} drivers`);
  await source.client.flushall();
  const loaded = await load(ctx);
  const keys = await source.client.dbsize();
  const usedMemory = Number((await source.info('memory')).used_memory);
  ctx.progress.log(PHASE, `${fmtInt(loaded.loaded)} drivers in ${loaded.seconds.toFixed(1)} s: ${fmtInt(keys)} keys, used_memory ${mb(usedMemory)}`);

  const keyFile = join(ctx.tmpDir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const env = (redis: RedisServer): Record<string, string> => ({
    REDIS_URL: redis.url,
    HEXFLEET_REDIS_PREFIX: PREFIX,
    HEXFLEET_BACKUP_DIR: join(ctx.tmpDir, 'backups'),
    HEXFLEET_BACKUP_KEY_FILE: keyFile,
    HEXFLEET_LOG_LEVEL: 'warn',
  });

  await awaitQuietMachine(ctx, PHASE, new Map());
  const created = await step(ctx, 'create', 'hexfleet', () => cli(['backup', 'create', '--json'], env(source), ctx), new Map([['redis', source.pid]]));
  const { manifest, fileBytes } = JSON.parse(created.result) as { manifest: BackupManifest; fileBytes: number };

  await awaitQuietMachine(ctx, PHASE, new Map());
  const verified = await step(ctx, 'verify', 'hexfleet', () => cli(['backup', 'verify', '--id', manifest.id], env(source), ctx), new Map());

  await awaitQuietMachine(ctx, PHASE, new Map());
  const rdbFile = join(ctx.tmpDir, 'baseline.rdb');
  // Redis 7 waits 5 s before a diskless sync by default (for more replicas to join): not the cost of writing the RDB.
  await source.client.config('SET', 'repl-diskless-sync-delay', '0');
  const rdb = await step(ctx, 'redis-cli --rdb', 'redis-cli', async () => void (await run('redis-cli', ['-p', String(source.port), '--rdb', rdbFile])), new Map([['redis', source.pid]]));
  const rdbBytes = statSync(rdbFile).size;

  const targetDir = join(ctx.tmpDir, 'restore-target');
  mkdirSync(targetDir, { recursive: true });
  const target = await RedisServer.start({ dir: targetDir });
  try {
    await awaitQuietMachine(ctx, PHASE, new Map([['redis-target', target.pid]]));
    const restored = await step(ctx, 'restore', 'hexfleet', () => cli(['backup', 'restore', '--json'], env(target), ctx), new Map([['redis', target.pid]]));
    const summary = JSON.parse(restored.result) as RestoreSummary;
    ctx.progress.log(PHASE, 'comparing every key of the restored Redis with the source (DUMP bytes)');
    const mismatches = await compare(source.client, target.client);
    const targetKeys = await target.client.dbsize();

    await target.client.flushall();
    await awaitQuietMachine(ctx, PHASE, new Map());
    const rdbDir = join(ctx.tmpDir, 'rdb-load');
    const loadedRdb = await step(ctx, 'RDB load', 'redis-server loading', async () => {
      mkdirSync(rdbDir, { recursive: true });
      copyFileSync(rdbFile, join(rdbDir, 'baseline.rdb'));
      // A fresh redis-server loading the RDB at start (AOF off, so it reads the RDB); ready = it answers PING.
      const s = await RedisServer.start({ dir: rdbDir, args: ['--appendonly', 'no', '--dbfilename', 'baseline.rdb'] });
      const n = await s.client.dbsize();
      await s.stop();
      return n;
    }, new Map());

    const perDriver = (n: number): string => `${(n / loaded.loaded).toFixed(0)} bytes per driver`;
    const cpuOf = (t: Timed<unknown>): string =>
      [...t.cpu].map(([name, pct]) => `${name} ${fmtPct(pct)}`).join(', ') + `; other processes ${fmtPct(t.othersPct)}`;
    return [
      {
        scenario: PHASE,
        figure: 'parameters',
        value:
          `${fmtInt(loaded.loaded)} drivers (one ping each over 50 metro areas of ${ctx.options.metroSideKm}×${ctx.options.metroSideKm} km, H3 res ${ctx.options.h3Resolution}) ` +
          `loaded through RedisDriverStore into one redis-server (AOF everysec): ${fmtInt(keys)} keys (record buckets + occupied cells), used_memory ${mb(usedMemory)}; ` +
          'every step is `node dist/src/cli.js backup …` in its own process, no event log configured (no settle wait); the restore target is a second, empty redis-server (AOF everysec)',
      },
      { scenario: PHASE, figure: 'create: wall time (process start to exit)', value: `${created.wallS.toFixed(1)} s (${fmtInt(loaded.loaded / created.wallS)} drivers/s); CPU ${cpuOf(created)}` },
      { scenario: PHASE, figure: 'baseline: redis-cli --rdb of the same Redis', value: `${rdb.wallS.toFixed(1)} s` },
      { scenario: PHASE, figure: 'create ÷ redis-cli --rdb (time)', value: `${(created.wallS / rdb.wallS).toFixed(2)}` },
      { scenario: PHASE, figure: 'backup file on disk', value: `${mb(fileBytes)} (${perDriver(fileBytes)}); ${fmtInt(manifest.totals.keys)} keys, ${mb(manifest.totals.bytes)} of DUMP payloads and key names` },
      { scenario: PHASE, figure: 'baseline: RDB file of the same data', value: `${mb(rdbBytes)} (${perDriver(rdbBytes)})` },
      { scenario: PHASE, figure: 'backup ÷ RDB (size)', value: `${(fileBytes / rdbBytes).toFixed(2)}` },
      { scenario: PHASE, figure: 'verify: wall time (every chunk authenticated, checksums)', value: `${verified.wallS.toFixed(1)} s; CPU ${cpuOf(verified)}` },
      {
        scenario: PHASE,
        figure: 'restore into an empty Redis: wall time (verify pass + write pass)',
        value: `${restored.wallS.toFixed(1)} s (verify ${(summary.verifyMs / 1000).toFixed(1)} s, write ${(summary.restoreMs / 1000).toFixed(1)} s); CPU ${cpuOf(restored)}`,
      },
      { scenario: PHASE, figure: 'baseline: a fresh redis-server loading the RDB (start to PING)', value: `${loadedRdb.wallS.toFixed(1)} s (${fmtInt(loadedRdb.result)} keys)` },
      { scenario: PHASE, figure: 'restore ÷ RDB load (time)', value: `${(restored.wallS / loadedRdb.wallS).toFixed(2)}` },
      {
        scenario: PHASE,
        figure: 'restored = source (every key, DUMP bytes)',
        value: `${fmtInt(targetKeys)} of ${fmtInt(keys)} keys, ${fmtInt(mismatches)} mismatches`,
        target: '0 mismatches',
        met: mismatches === 0 && targetKeys === keys,
      },
    ];
  } finally {
    await target.stop();
  }
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

async function load(ctx: BackupBenchContext): Promise<MemoryLoadResult> {
  const config: MemoryLoadConfig = {
    type: 'config',
    mode: 'redis',
    redisUrl: ctx.redis.url,
    prefix: PREFIX,
    h3Resolution: ctx.options.h3Resolution,
    drivers: ctx.options.drivers,
    metroSideKm: ctx.options.metroSideKm,
    seed: SEED,
    driversPerCall: DRIVERS_PER_CALL,
    inflight: INFLIGHT,
  };
  const w = new Worker('backup-load', 'memory-worker.js', {
    onProgress: (m) => ctx.progress.log(PHASE, `${fmtInt((m as Message & { loaded: number }).loaded)} drivers loaded`),
  });
  try {
    w.send(config);
    return await w.next<MemoryLoadResult>('result', STEP_TIMEOUT_MS);
  } finally {
    await w.stop();
  }
}

/**
 * Times one step: wall clock, the CPU of the child process it runs (read
 * from this process's reaped children's times once it exited, named
 * `child`) and of the watched processes.
 */
async function step<T>(ctx: BackupBenchContext, name: string, child: string, work: () => Promise<T>, watch: ReadonlyMap<string, number>): Promise<Timed<T>> {
  ctx.progress.log(PHASE, `${name}…`);
  const reaped = reapedChildrenCpuSeconds();
  const window = new CpuWindow(watch);
  const started = performance.now();
  const result = await work();
  const wallS = (performance.now() - started) / 1000;
  const out = window.end();
  const childPct = ((reapedChildrenCpuSeconds() - reaped) / wallS) * 100;
  const cpu = new Map([[child, childPct], ...out.perProcess]);
  ctx.progress.log(PHASE, `${name}: ${wallS.toFixed(2)} s`);
  return { result, wallS, cpu, othersPct: Math.max(0, out.othersPct - childPct) };
}

/** `hexfleet …` to completion (stdout), its progress lines relayed; rejects on a non-zero exit. */
async function cli(args: string[], env: Record<string, string>, ctx: BackupBenchContext): Promise<string> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_') && k !== 'REDIS_URL') childEnv[k] = v;
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const line of d.toString().split('\n')) if (line.trim()) ctx.progress.log(PHASE, line.trim());
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`hexfleet ${args.join(' ')} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return stdout;
}

/** Keys of `source` missing from `target` or with other DUMP bytes (and keys only in `target`). */
async function compare(source: Redis, target: Redis): Promise<number> {
  let mismatches = 0;
  let cursor = '0';
  do {
    const [next, keys] = await source.scanBuffer(cursor, 'COUNT', 1000);
    cursor = String(next);
    if (keys.length === 0) continue;
    const a = source.pipeline();
    const b = target.pipeline();
    for (const k of keys) {
      a.dumpBuffer(k);
      b.dumpBuffer(k);
    }
    const [ra, rb] = await Promise.all([a.exec(), b.exec()]);
    for (let i = 0; i < keys.length; i++) {
      const x = ra?.[i]?.[1] as Buffer | null;
      const y = rb?.[i]?.[1] as Buffer | null;
      if (!x || !y || !x.equals(y)) mismatches++;
    }
  } while (cursor !== '0');
  return mismatches + Math.max(0, (await target.dbsize()) - (await source.dbsize()));
}

/** cutime + cstime of this process: the CPU seconds of every child it has reaped (the CLI, once it exited). */
function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}
