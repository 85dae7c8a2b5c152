import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../../kit/redis-cluster.js';
import { BackupDir } from '../../src/backup/backup-dir.js';
import { BackupVerificationError } from '../../src/backup/backup-errors.js';
import type { BackupManifest } from '../../src/backup/backup-manifest.js';
import { waitForTarget } from '../../src/backup/backup-target.js';
import { createBackup } from '../../src/backup/create-backup.js';
import { restoreBackup } from '../../src/backup/restore-backup.js';
import { verifyBackup } from '../../src/backup/verify-backup.js';
import { uniquePrefix } from '../support/backends.js';
import { hexfleet, killCliRuns } from './backup-cli.js';
import { BackupSandbox, chunkSpans, flipBit, keysOf, keyState } from './backup-fixtures.js';

/**
 * Backups of a Redis Cluster (kit/redis-cluster.ts: 3 primaries, 3
 * replicas): each primary is scanned as one shard with its own count and
 * checksum, and a restore writes each key through the cluster client, so a
 * backup restores into the same cluster flushed, or into a fresh cluster
 * that splits its slots differently (4 primaries). The keys are the test's
 * own, with hash tags as the cluster engine's are (`<prefix>:v1:{tag}…`).
 */

const KEYS = 3_000;
let cluster: RedisCluster;
let client: Cluster;
let box: BackupSandbox;
let dir: BackupDir;
const prefix = uniquePrefix();
const keyPrefix = `${prefix}:v1:`;
const target = (): { client: Cluster; keyPrefix: string; engine: 'cluster' } => ({ client, keyPrefix, engine: 'cluster' });

async function fill(c: Cluster): Promise<void> {
  for (let i = 0; i < KEYS; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, k) => {
        const n = i + k;
        const tag = `{a${n % 64}}`;
        if (n % 3 === 0) return c.hset(`${keyPrefix}${tag}r:${n % 97}`, `d-${n}`, `record of d-${n}`);
        if (n % 3 === 1) return c.set(`${keyPrefix}o:${n}`, JSON.stringify({ orderId: n, state: 'open' }), 'PX', 3_600_000);
        return c.zadd(`${keyPrefix}${tag}c:${n % 31}`, n, `d-${n}`);
      }),
    );
  }
}

/** Keys per primary, by host:port, counted by the test itself. */
async function keysPerPrimary(c: Cluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const node of c.nodes('master')) {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
    out[`${node.options.host}:${node.options.port}`] = n;
  }
  return out;
}

beforeAll(async () => {
  box = new BackupSandbox();
  dir = new BackupDir(box.dir);
  cluster = await RedisCluster.start();
  client = cluster.client();
  await waitForTarget(target(), 20_000);
  await fill(client);
}, 120_000);

afterAll(async () => {
  await killCliRuns();
  client?.disconnect();
  await cluster?.stop();
  box?.remove();
});

describe('backups of a Redis Cluster', () => {
  let manifest: BackupManifest;
  let before: Awaited<ReturnType<typeof keyState>>;

  it('one shard per primary, each with its own key count and SHA-256', async () => {
    before = await keyState(client, keyPrefix);
    const perPrimary = await keysPerPrimary(client);
    ({ manifest } = await createBackup({ target: target(), dir, key: box.key, trigger: 'manual' }));
    expect(manifest.engine).toBe('cluster');
    expect(manifest.shards).toHaveLength(3);
    expect(Object.fromEntries(manifest.shards.map((s) => [s.node, s.keys]))).toEqual(perPrimary);
    expect(Object.values(perPrimary).every((n) => n > 0)).toBe(true);
    expect(manifest.totals.keys).toBe(before.size);
    expect(new Set(manifest.shards.map((s) => s.sha256)).size).toBe(3);
    expect((await verifyBackup(dir, box.key, manifest.id)).manifest.shards).toEqual(manifest.shards);
  });

  it('restores into the same cluster, flushed', async () => {
    for (const node of client.nodes('master')) await node.flushall();
    expect((await keyState(client, keyPrefix)).size).toBe(0);
    const s = await restoreBackup({ dir, key: box.key, target: target(), id: manifest.id, force: false });
    expect(s.keys).toEqual({ restored: manifest.totals.keys, expired: 0 });
    await expectSame(client, before);
  });

  it('restores into a fresh cluster that splits its slots over 4 primaries: each key lands where its slot lives now', async () => {
    const fresh = await RedisCluster.start({ primaries: 4 });
    const other = fresh.client();
    try {
      const t = { client: other, keyPrefix, engine: 'cluster' as const };
      await waitForTarget(t, 20_000);
      const s = await restoreBackup({ dir, key: box.key, target: t, id: manifest.id, force: false });
      expect(s.keys.restored).toBe(manifest.totals.keys);
      await expectSame(other, before);
      const counts = await keysPerPrimary(other);
      expect(Object.keys(counts)).toHaveLength(4);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(before.size);

      // A backup damaged in one shard's data: refused, nothing written into the (flushed) fresh cluster.
      for (const node of other.nodes('master')) await node.flushall();
      const file = dir.fileOf(manifest.id);
      const spans = chunkSpans(file);
      flipBit(file, spans[Math.floor((spans.length - 1) / 2)]!.start + 50);
      const refused = restoreBackup({ dir, key: box.key, target: t, id: manifest.id, force: false });
      await expect(refused).rejects.toBeInstanceOf(BackupVerificationError);
      await expect(refused).rejects.toThrow(new RegExp(`^backup ${manifest.id} failed verification: chunk \\d+ at byte \\d+ does not authenticate`));
      expect((await keyState(other, keyPrefix)).size).toBe(0);
    } finally {
      other.disconnect();
      await fresh.stop();
    }
  }, 120_000);

  it('hexfleet backup create and verify on HEXFLEET_REDIS_CLUSTER, as a process', async () => {
    const env = { HEXFLEET_REDIS_CLUSTER: cluster.seeds, HEXFLEET_REDIS_PREFIX: prefix, ...box.env };
    const created = await hexfleet(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const m = (JSON.parse(created.stdout) as { manifest: BackupManifest }).manifest;
    expect(m.shards.map((s) => s.keys).reduce((a, b) => a + b, 0)).toBe(before.size);
    expect(m.shards).toHaveLength(3);
    const verified = await hexfleet(['backup', 'verify', '--id', m.id], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`keys in 3 shard(s) match their counts and SHA-256`);
  });
});

async function expectSame(c: Cluster, expected: Map<string, { dump: string; expireAt: number }>): Promise<void> {
  const got = await keyState(c, keyPrefix);
  expect(keysOf(got)).toEqual(keysOf(expected));
  for (const [key, want] of expected) {
    expect(got.get(key)!.dump, key).toBe(want.dump);
    if (want.expireAt === -1) expect(got.get(key)!.expireAt, key).toBe(-1);
    else expect(Math.abs(got.get(key)!.expireAt - want.expireAt), key).toBeLessThan(100);
  }
}
