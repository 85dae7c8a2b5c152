import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../src/backup/backup-manifest.js';
import type { CatalogEntry } from '../../src/backup/backup-catalog.js';
import type { DriverBatch } from '../../src/geo/driver-store.js';
import { openTestBackend, TEST_TIMING, uniquePrefix } from '../support/backends.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { hexfleet, killCliRuns } from './backup-cli.js';
import { BackupSandbox, chunkSpans, flipBit, keysOf, keyState, truncate } from './backup-fixtures.js';

/**
 * `hexfleet backup` as an operator runs it, in its own process, against
 * real redis-servers: create while the data is there, list, verify, and
 * restore into an empty Redis; every key comes back byte for byte (DUMP)
 * with its expiry. Damaged backups, another key, a store that already
 * holds keys and the memory engine are refused with stable words, and a
 * refused restore writes nothing.
 */

/** Enough for three data chunks (~1 MiB each): damage can hit a chunk in the middle. */
const DRIVERS = 20_000;
let source: RedisServer;
let target: RedisServer;
let box: BackupSandbox;
const prefix = uniquePrefix();
const keyPrefix = `${prefix}:v1:`;

function env(redis: RedisServer, extra: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL: redis.url, HEXFLEET_REDIS_PREFIX: prefix, ...box.env, ...extra };
}

/** Drivers through the real store (record buckets, cell index), and keys of other types with expiries. */
async function fill(): Promise<void> {
  const b = await openTestBackend('redis', { redisUrl: source.url, timing: TEST_TIMING, prefix });
  try {
    const now = Date.now();
    const batches: DriverBatch[] = Array.from({ length: DRIVERS }, (_, i) => ({
      driverId: `d-${i}`,
      vehicle: 'bike',
      pings: [{ seq: 1, ts: now - 1000, lat: 52.4 + (i % 100) / 500, lng: 13.2 + Math.floor(i / 100) / 300, status: i % 2 ? 'available' : 'busy' }],
    }));
    for (let i = 0; i < batches.length; i += 500) await b.backend.drivers.applyBatches(batches.slice(i, i + 500), now);
  } finally {
    await b.backend.close();
    b.admin?.disconnect();
  }
  const r = source.client;
  await r.set(`${keyPrefix}idem:k1`, 'o-1', 'PX', 3_600_000);
  await r.set(`${keyPrefix}idem:gone-soon`, 'o-2', 'PX', 1);
  await r.xadd(`${keyPrefix}outbox`, '*', 'e', 'order o-1 v1');
  await r.zadd(`${keyPrefix}o:due`, 1, 'o-1', 2, 'o-2');
  // Not ours: a key of another prefix is neither backed up nor touched by a restore.
  await r.set('someone-else:key', 'x');
}

async function emptyTarget(): Promise<void> {
  await target.client.flushall();
}

async function createBackup(): Promise<BackupManifest> {
  const r = await hexfleet(['backup', 'create', '--json'], env(source));
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { manifest: BackupManifest }).manifest;
}

beforeAll(async () => {
  box = new BackupSandbox();
  [source, target] = await Promise.all([RedisServer.start(), RedisServer.start()]);
  await fill();
});

afterAll(async () => {
  await killCliRuns();
  await Promise.all([source?.stop(), target?.stop()]);
  box?.remove();
});

describe('hexfleet backup on one Redis', () => {
  let first: BackupManifest;
  let sourceState: Awaited<ReturnType<typeof keyState>>;

  it('create writes one encrypted file with a manifest that counts every key under the prefix', async () => {
    await waitFor(async () => (await source.client.exists(`${keyPrefix}idem:gone-soon`)) === 0, { what: 'the 1 ms key to expire' });
    sourceState = await keyState(source.client, keyPrefix);
    first = await createBackup();
    expect(first).toMatchObject({ layout: 'v1', engine: 'redis', keyPrefix, trigger: 'manual', log: null, redisVersion: expect.stringMatching(/^\d+\.\d+/) });
    expect(first.shards).toEqual([{ shard: 0, node: `127.0.0.1:${source.port}`, keys: sourceState.size, bytes: first.totals.bytes, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(first.totals.keys).toBe(sourceState.size);
    expect(chunkSpans(`${box.dir}/${first.id}.hfb`).length).toBeGreaterThanOrEqual(4); // 3 data chunks and the manifest
    expect(sourceState.size).toBeGreaterThan(DRIVERS / 61); // record buckets + occupied cells + the 3 other keys
    expect(Date.parse(first.createdAt)).toBeGreaterThanOrEqual(Date.parse(first.scanStartedAt));
    expect(statSync(`${box.dir}/${first.id}.hfb`).size).toBeGreaterThan(first.totals.bytes);
  });

  it('list and verify show it; the text forms name what an operator needs', async () => {
    const list = await hexfleet(['backup', 'list', '--json'], env(source));
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as CatalogEntry[]).map((e) => [e.id, e.manifest?.totals.keys])).toEqual([[first.id, first.totals.keys]]);
    const text = await hexfleet(['backup', 'list'], env(source));
    expect(text.stdout).toMatch(new RegExp(`^id +completed +trigger +engine +keys +size +log offsets +status\\n${first.id} +${first.createdAt} +manual +redis +[\\d,]+ +[\\d.]+ MB +no +ok \\(manifest\\)\\n$`));
    const verify = await hexfleet(['backup', 'verify'], env(source));
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`^backup ${first.id} verified: \\d+ chunks authenticated, [\\d,]+ keys in 1 shard\\(s\\) match their counts and SHA-256`));
  });

  it('restore into an empty Redis brings back every key byte for byte, with its expiry, and nothing else', async () => {
    await emptyTarget();
    await target.client.set('someone-else:key', 'kept');
    const r = await hexfleet(['backup', 'restore', '--json'], env(target));
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { id: string; keys: { restored: number; expired: number }; replay: unknown; deleted: number };
    expect(summary).toMatchObject({ id: first.id, keys: { restored: first.totals.keys, expired: 0 }, replay: null, deleted: 0 });
    await expectSameKeys(target.client, sourceState);
    expect(await target.client.get('someone-else:key')).toBe('kept');
    // The restored store reads as the source did.
    const b = await openTestBackend('redis', { redisUrl: target.url, timing: TEST_TIMING, prefix });
    try {
      const d = await b.backend.drivers.get('d-123', Date.now());
      expect(d).toMatchObject({ driverId: 'd-123', seq: 1, vehicle: 'bike', status: 'available', indexed: true });
    } finally {
      await b.backend.close();
      b.admin?.disconnect();
    }
  });

  it('a store that already holds keys under the prefix is refused; --force replaces what is there', async () => {
    await target.client.set(`${keyPrefix}stray`, 'written after the backup');
    const refused = await hexfleet(['backup', 'restore'], env(target));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^hexfleet: the store already holds keys under ${keyPrefix} \\(e\\.g\\. ${keyPrefix}\\S+\\); a restore goes into an empty prefix\\. Stop the gateways, and add --force to delete every key under the prefix first\\n$`));
    const forced = await hexfleet(['backup', 'restore', '--force'], env(target));
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(new RegExp(`^restored backup ${first.id} .*keys deleted first \\(--force\\)`));
    await expectSameKeys(target.client, sourceState);
  });

  describe('a damaged backup is refused and nothing is restored', () => {
    let good: string;

    beforeAll(() => {
      good = `${box.root}/good.hfb`;
      copyFileSync(`${box.dir}/${first.id}.hfb`, good);
    });

    const file = (): string => `${box.dir}/${first.id}.hfb`;
    const damage: [string, () => void, RegExp][] = [
      ['a flipped bit in the second chunk', () => flipBit(file(), chunkSpans(file())[1]!.start + 200), /chunk 1 at byte \d+ does not authenticate/],
      ['a flipped bit in the tag of the last data chunk', () => flipBit(file(), chunkSpans(file()).at(-2)!.end - 3), /chunk \d+ at byte \d+ does not authenticate/],
      ['a flipped bit in the manifest', () => flipBit(file(), chunkSpans(file()).at(-1)!.start + 40), /chunk \d+ \(the manifest\) at byte \d+ does not authenticate/],
      ['a cut in the middle', () => truncate(file(), Math.floor(statSync(file()).size / 2)), /truncated/],
      ['the last byte cut', () => truncate(file(), statSync(file()).size - 1), /truncated/],
    ];

    it.each(damage)('%s', async (_what, harm, reason) => {
      copyFileSync(good, file());
      harm();
      await emptyTarget();
      const r = await hexfleet(['backup', 'restore'], env(target));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^hexfleet: backup ${first.id} failed verification: .*; nothing was restored\\n$`));
      expect(r.stderr).toMatch(reason);
      expect(await target.client.dbsize()).toBe(0);
      const v = await hexfleet(['backup', 'verify', '--id', first.id], env(target));
      expect(v.code).toBe(1);
      expect(v.stderr).toMatch(new RegExp(`^hexfleet: backup ${first.id} failed verification: `));
    });

    it('another key', async () => {
      copyFileSync(good, file());
      await emptyTarget();
      const r = await hexfleet(['backup', 'restore'], { ...env(target), HEXFLEET_BACKUP_KEY_FILE: box.otherKeyFile() });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `hexfleet: backup ${first.id} failed verification: the key does not match: it was encrypted under another key than HEXFLEET_BACKUP_KEY_FILE holds (or its header was altered); nothing was restored\n`,
      );
      expect(await target.client.dbsize()).toBe(0);
    });

    it('the intact file restores again', async () => {
      writeFileSync(file(), readFileSync(good));
      const r = await hexfleet(['backup', 'restore'], env(target));
      expect(r.code, r.stderr).toBe(0);
      await expectSameKeys(target.client, sourceState);
    });
  });

  it('restore --to picks the newest backup completed by then; without an event log it says the replay was skipped', async () => {
    const between = Date.now();
    await waitFor(() => Date.now() > between + 1, { what: 'the clock to move' });
    await source.client.set(`${keyPrefix}idem:later`, 'o-9');
    const second = await createBackup();
    expect(second.totals.keys).toBe(first.totals.keys + 1);

    await emptyTarget();
    const older = await hexfleet(['backup', 'restore', '--to', new Date(between).toISOString()], env(target));
    expect(older.code, older.stderr).toBe(0);
    expect(older.stdout).toMatch(new RegExp(`^restored backup ${first.id} `));
    expect(older.stdout).toContain('log replay SKIPPED: no event log is configured (HEXFLEET_KAFKA_BROKERS)');
    expect(older.stderr).toContain('hexfleet: log replay skipped: no event log is configured (HEXFLEET_KAFKA_BROKERS): the store holds the snapshot, not the state at --to\n');
    expect(await target.client.exists(`${keyPrefix}idem:later`)).toBe(0);

    await emptyTarget();
    const newest = await hexfleet(['backup', 'restore', '--to', 'now'], env(target));
    expect(newest.stdout).toMatch(new RegExp(`^restored backup ${second.id} `));
    expect(await target.client.get(`${keyPrefix}idem:later`)).toBe('o-9');

    const tooEarly = await hexfleet(['backup', 'restore', '--to', '2020-01-01T00:00:00Z'], env(target));
    expect(tooEarly.code).toBe(1);
    expect(tooEarly.stderr).toMatch(/^hexfleet: no backup was completed at or before 2020-01-01T00:00:00.000Z \(the oldest, \S+, was completed at /);
  });

  it('a backup of another prefix is refused before anything is written', async () => {
    await emptyTarget();
    const r = await hexfleet(['backup', 'restore'], { ...env(target), HEXFLEET_REDIS_PREFIX: 'other' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hexfleet: backup \\S+ holds keys under ${keyPrefix}, the configured prefix is other:v1: \\(set HEXFLEET_REDIS_PREFIX to ${prefix}\\)\\n$`));
    expect(await target.client.dbsize()).toBe(0);
  });
});

describe('hexfleet backup refuses what it cannot do (exit 2)', () => {
  it.each([
    ['create on the memory engine', ['create'], (): Record<string, string> => box.env, /backups need a Redis engine .*the in-memory store dies with its process/],
    ['restore on the memory engine', ['restore'], (): Record<string, string> => box.env, /backups need a Redis engine/],
    ['no backup dir', ['list'], (): Record<string, string> => ({ REDIS_URL: source.url }), /hexfleet backup needs HEXFLEET_BACKUP_DIR/],
    ['a dir without a key file', ['list'], (): Record<string, string> => ({ HEXFLEET_BACKUP_DIR: box.dir }), /HEXFLEET_BACKUP_DIR needs HEXFLEET_BACKUP_KEY_FILE: backups are always encrypted/],
    ['an unknown action', ['copy'], (): Record<string, string> => box.env, /unknown backup action "copy"; one of create, list, verify, restore/],
    ['an unknown flag', ['create', '--to', 'now'], (): Record<string, string> => env(source), /Unknown option '--to'/],
    ['a malformed id', ['restore', '--id', 'latest'], (): Record<string, string> => env(source), /--id must be a backup id/],
    ['a --to in the future', ['restore', '--to', '2999-01-01T00:00:00Z'], (): Record<string, string> => env(source), /--to 2999-01-01T00:00:00Z is in the future/],
  ])('%s', async (_what, args, e, message) => {
    const r = await hexfleet(['backup', ...args], e());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^hexfleet: /);
    expect(r.stderr).toMatch(message);
  });

  it('backup --help lists the actions and flags without Redis', async () => {
    const r = await hexfleet(['backup', '--help'], {});
    expect(r.code).toBe(0);
    for (const word of ['create', 'list', 'verify', 'restore', '--to TIME', '--id ID', '--force', '--json']) expect(r.stdout).toContain(word);
  });
});

/** Every key of `expected`, and no other, under the prefix of `redis`: same DUMP bytes, same expiry (to the millisecond the backup read it at). */
async function expectSameKeys(redis: Redis, expected: Map<string, { dump: string; expireAt: number }>): Promise<void> {
  const got = await keyState(redis, keyPrefix);
  expect(keysOf(got)).toEqual(keysOf(expected));
  for (const [key, want] of expected) {
    const have = got.get(key)!;
    expect(have.dump, key).toBe(want.dump);
    if (want.expireAt === -1) expect(have.expireAt, key).toBe(-1);
    else expect(Math.abs(have.expireAt - want.expireAt), key).toBeLessThan(100);
  }
}
