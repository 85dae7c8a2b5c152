import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SentinelGroup } from '../../kit/redis-sentinel.js';
import type { BackupManifest } from '../../src/backup/backup-manifest.js';
import { uniquePrefix } from '../support/backends.js';
import { RedisServer } from '../support/redis-server.js';
import { hexfleet, killCliRuns } from './backup-cli.js';
import { BackupSandbox, keysOf, keyState } from './backup-fixtures.js';

/**
 * The Sentinel engine's data is one Redis, reached through the Sentinels:
 * a backup reads the primary they name, and its keys restore into a plain
 * Redis (the redis engine lays keys out the same way) — the way out of a
 * Sentinel group that lost every node.
 */

let group: SentinelGroup;
let plain: RedisServer;
let box: BackupSandbox;
const prefix = uniquePrefix();
const keyPrefix = `${prefix}:v1:`;

beforeAll(async () => {
  box = new BackupSandbox();
  [group, plain] = await Promise.all([SentinelGroup.start(), RedisServer.start()]);
}, 120_000);

afterAll(async () => {
  await killCliRuns();
  await Promise.all([group?.stop(), plain?.stop()]);
  box?.remove();
});

describe('backups of the Sentinel engine', () => {
  it('backs up the primary the Sentinels name, and restores into a plain Redis', async () => {
    const primary = await group.primary();
    for (let i = 0; i < 500; i++) await primary.client.hset(`${keyPrefix}r:${i % 50}`, `d-${i}`, `record ${i}`);
    await primary.client.set(`${keyPrefix}idem:k`, 'o-1', 'PX', 3_600_000);
    const before = await keyState(primary.client, keyPrefix);

    const env = { HEXFLEET_REDIS_SENTINELS: group.sentinels, HEXFLEET_REDIS_MASTER_NAME: group.name, HEXFLEET_REDIS_PREFIX: prefix, ...box.env };
    const created = await hexfleet(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const m = (JSON.parse(created.stdout) as { manifest: BackupManifest }).manifest;
    expect(m).toMatchObject({ engine: 'sentinel', totals: { keys: before.size } });
    expect(m.shards).toEqual([expect.objectContaining({ node: `127.0.0.1:${primary.port}`, keys: before.size })]);

    const restored = await hexfleet(['backup', 'restore'], { REDIS_URL: plain.url, HEXFLEET_REDIS_PREFIX: prefix, ...box.env });
    expect(restored.code, restored.stderr).toBe(0);
    const after = await keyState(plain.client, keyPrefix);
    expect(keysOf(after)).toEqual(keysOf(before));
    for (const [key, want] of before) expect(after.get(key)!.dump, key).toBe(want.dump);
  });
});
