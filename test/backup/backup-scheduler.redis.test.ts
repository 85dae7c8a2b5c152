import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/backup-catalog.js';
import { BackupDir } from '../../src/backup/backup-dir.js';
import { openBackupTarget, waitForTarget } from '../../src/backup/backup-target.js';
import { createBackup } from '../../src/backup/create-backup.js';
import { verifyBackup } from '../../src/backup/verify-backup.js';
import { loadConfig } from '../../src/config/load-config.js';
import { deleteKeysAt, uniquePrefix } from '../support/backends.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { BackupSandbox } from './backup-fixtures.js';

/**
 * HEXFLEET_BACKUP_INTERVAL_MS on two gateways of one deployment (one Redis,
 * one prefix, one backup directory): each interval one of them takes the
 * backup under the Redis lock and the other skips; backups are never closer
 * than 0.9 × the interval; retention keeps HEXFLEET_BACKUP_KEEP scheduled
 * backups, each of which verifies, and never deletes a manual one.
 */

const INTERVAL_MS = 1500;
const KEEP = 3;
const TAKEN = 6;
let redis: RedisServer;
let box: BackupSandbox;
const prefix = uniquePrefix();

beforeAll(async () => {
  box = new BackupSandbox();
  redis = await RedisServer.start();
});

afterAll(async () => {
  await stopAllGateways();
  await deleteKeysAt(redis.url, prefix).catch(() => {});
  await redis?.stop();
  box?.remove();
});

/** hexfleet_backups_total{outcome} over the gateways, read from their registries (also after they stopped). */
async function sum(gws: TestGateway[], outcome: string): Promise<number> {
  let n = 0;
  for (const g of gws) {
    const metric = g.gateway.metrics.registry.getSingleMetric('hexfleet_backups_total');
    n += (await metric!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  }
  return n;
}

describe('scheduled backups', () => {
  it('two gateways take one backup per interval between them, and keep the newest HEXFLEET_BACKUP_KEEP', async () => {
    const env = { ...box.env, HEXFLEET_BACKUP_INTERVAL_MS: String(INTERVAL_MS), HEXFLEET_BACKUP_KEEP: String(KEEP) };
    const manualEnv = { ...box.env };
    // A manual backup first (on a gateway without a schedule): retention must never delete it.
    const first = await startTestGateway('redis', { redisUrl: redis.url, prefix, env: manualEnv });
    const driver = await first.connectDriver('d-1');
    driver.sendPings([{ seq: 1, lat: 52.52, lng: 13.405, ts: Date.now() }]);
    await driver.waitForAck(1);
    await first.stop();
    const t = openBackupTarget(loadConfig({ REDIS_URL: redis.url, HEXFLEET_REDIS_PREFIX: prefix }));
    await waitForTarget(t, 10_000);
    const manual = await createBackup({ target: t, dir: new BackupDir(box.dir), key: box.key, trigger: 'manual' });
    t.close();

    const started = Date.now();
    const gws = await Promise.all([0, 1].map(() => startTestGateway('redis', { redisUrl: redis.url, prefix, env })));
    await waitFor(async () => (await sum(gws, 'taken')) >= TAKEN, { what: `${TAKEN} scheduled backups`, timeoutMs: 60_000, intervalMs: 100 });
    await Promise.all(gws.map((g) => g.stop()));
    const window = Date.now() - started;

    const taken = await sum(gws, 'taken');
    expect(await sum(gws, 'failed')).toBe(0);
    expect(await sum(gws, 'skipped')).toBeGreaterThan(0);
    // Never two in one interval: at most one per 0.9 × interval since the gateways started.
    expect(taken).toBeLessThanOrEqual(Math.floor(window / (0.9 * INTERVAL_MS)) + 1);

    const entries = await listBackups(new BackupDir(box.dir), box.key);
    const scheduled = entries.filter((e) => e.manifest?.trigger === 'scheduled');
    expect(entries.filter((e) => e.error)).toEqual([]);
    expect(entries.filter((e) => e.manifest?.trigger === 'manual').map((e) => e.id)).toEqual([manual.manifest.id]);
    expect(scheduled).toHaveLength(KEEP);
    const starts = scheduled.map((e) => BackupDir.timeOf(e.id));
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!, `backups ${i - 1} and ${i}`).toBeGreaterThanOrEqual(0.9 * INTERVAL_MS - 100);
    for (const e of scheduled) {
      const r = await verifyBackup(new BackupDir(box.dir), box.key, e.id);
      expect(r.manifest.totals.keys).toBeGreaterThan(0);
      // The lock is never in a backup: a restore must not bring back a stale one.
      expect(r.manifest.totals.keys).toBe(manual.manifest.totals.keys);
    }
  }, 90_000);

  it('a gateway on the memory engine refuses a backup schedule at start', async () => {
    await expect(startTestGateway('memory', { env: { ...box.env, HEXFLEET_BACKUP_INTERVAL_MS: '60000' } })).rejects.toThrow(
      /backups need a Redis engine .*the in-memory store dies with its process/,
    );
  });
});
