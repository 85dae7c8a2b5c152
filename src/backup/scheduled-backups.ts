import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/config-schema.js';
import { BackupDir } from './backup-dir.js';
import { loadBackupKey } from './backup-key.js';
import { BackupMetrics } from './backup-metrics.js';
import { BackupScheduler } from './backup-scheduler.js';
import { openBackupTarget } from './backup-target.js';

/**
 * A gateway's scheduled backups, started: none when
 * `HEXFLEET_BACKUP_INTERVAL_MS` is 0. Throws `ConfigError` before anything
 * starts when the engine is the memory store (nothing to back up) or the
 * key file is unusable, so a gateway never runs believing it is backed up
 * when it is not. The scheduler has its own Redis connection; the
 * gateway's event log, when configured, gives the offsets.
 */
export function startScheduledBackups(
  config: Config,
  backend: Pick<Backend, 'log' | 'topics'>,
  registry: Registry,
  logger: Logger,
): BackupScheduler | undefined {
  if (config.backupIntervalMs === 0) return undefined;
  const key = loadBackupKey(config.backupKeyFile);
  const target = openBackupTarget(config);
  const scheduler = new BackupScheduler({
    intervalMs: config.backupIntervalMs,
    keep: config.backupKeep,
    dir: new BackupDir(config.backupDir),
    key,
    target,
    log: backend.log ? { log: backend.log, topics: backend.topics, settleMs: config.redisCommandTimeoutMs } : undefined,
    metrics: new BackupMetrics(registry),
    logger,
  });
  scheduler.start();
  logger.info({ intervalMs: config.backupIntervalMs, keep: config.backupKeep, dir: config.backupDir }, 'scheduled backups on (one gateway of the deployment takes each)');
  return scheduler;
}
