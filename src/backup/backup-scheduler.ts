import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { PeriodicTask } from '../runtime/periodic-task.js';
import type { BackupDir } from './backup-dir.js';
import type { BackupMetrics } from './backup-metrics.js';
import type { OpenedTarget } from './backup-target.js';
import { type BackupLog, backupLockKey, createBackup } from './create-backup.js';
import { pruneBackups } from './retention.js';
import { verifyBackup } from './verify-backup.js';

/** What a gateway's scheduler needs (see `startScheduledBackups`). */
export interface BackupSchedulerOptions {
  intervalMs: number;
  /** HEXFLEET_BACKUP_KEEP. */
  keep: number;
  dir: BackupDir;
  key: Buffer;
  /** The scheduler's own connection; `stop()` closes it. */
  target: OpenedTarget;
  log?: BackupLog;
  metrics: BackupMetrics;
  logger: Logger;
}

/** What one tick did (also the label of `hexfleet_backups_total`). */
export type TickOutcome = 'taken' | 'skipped' | 'failed';

/**
 * The lock outlives a backup's start by 90 % of the interval: every
 * gateway ticks once per interval, so whichever ticks first in a window
 * takes the backup and the others find the lock; two backups are never
 * closer than 0.9 × interval, and the 10 % slack lets the next window's
 * first tick find the lock gone even when the ticks of the gateways drift.
 */
const LOCK_FRACTION = 0.9;

/**
 * Scheduled backups (`HEXFLEET_BACKUP_INTERVAL_MS`) on every gateway, taken
 * by one of them per interval: each tick tries `SET <prefix>backup:lock
 * <token> NX PX 0.9·interval`; the gateway that sets it backs up, the
 * others skip. The lock is renewed while a backup runs (one that outlasts
 * the interval makes the next ticks skip, never overlap) and is not
 * released after it: it marks the interval as done. On a cluster the lock
 * is one key on one shard, which is all it needs.
 *
 * A backup that completes is verified (read back whole) before retention
 * deletes anything (`HEXFLEET_BACKUP_KEEP`). Failures are logged and counted
 * (`hexfleet_backups_total{outcome="failed"}`); the next interval tries again.
 */
export class BackupScheduler {
  private readonly task: PeriodicTask;
  private readonly lockKey: string;
  private readonly lockMs: number;
  private readonly abort = new AbortController();

  constructor(private readonly o: BackupSchedulerOptions) {
    this.lockKey = backupLockKey(o.target.keyPrefix);
    this.lockMs = Math.max(1, Math.floor(o.intervalMs * LOCK_FRACTION));
    this.task = new PeriodicTask(() => this.tick(), o.intervalMs);
  }

  start(): void {
    this.task.start();
  }

  /** Stops ticking, abandons a backup in progress (its partial file is deleted) and closes the connection. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.task.stop();
    this.o.target.close();
  }

  /** One tick: take the lock and back up, or skip. Never rejects. */
  async tick(): Promise<TickOutcome> {
    const { logger, metrics } = this.o;
    const token = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    let renew: NodeJS.Timeout | undefined;
    try {
      const got = await this.o.target.client.set(this.lockKey, token, 'PX', this.lockMs, 'NX');
      if (got !== 'OK') {
        metrics.runs.inc({ outcome: 'skipped' });
        logger.debug('scheduled backup: another gateway holds the backup lock for this interval');
        return 'skipped';
      }
      renew = setInterval(() => void this.renew(token), Math.max(1, Math.floor(this.lockMs / 3)));
      renew.unref();
      const created = await createBackup({ target: this.o.target, dir: this.o.dir, key: this.o.key, log: this.o.log, trigger: 'scheduled', signal: this.abort.signal });
      await verifyBackup(this.o.dir, this.o.key, created.manifest.id);
      const pruned = await pruneBackups(this.o.dir, this.o.key, this.o.keep);
      metrics.runs.inc({ outcome: 'taken' });
      metrics.lastSuccess.set(Date.parse(created.manifest.createdAt) / 1000);
      metrics.lastBytes.set(created.fileBytes);
      logger.info(
        { backup: created.manifest.id, keys: created.manifest.totals.keys, bytes: created.fileBytes, ms: created.elapsedMs, deleted: pruned.deleted },
        'scheduled backup taken and verified',
      );
      if (pruned.unreadable.length > 0) logger.warn({ unreadable: pruned.unreadable }, 'backups whose manifest cannot be read are in HEXFLEET_BACKUP_DIR (retention leaves them)');
      return 'taken';
    } catch (err) {
      if (this.abort.signal.aborted) return 'failed';
      metrics.runs.inc({ outcome: 'failed' });
      logger.error({ err: (err as Error).message }, 'scheduled backup failed; the next interval tries again');
      return 'failed';
    } finally {
      clearInterval(renew);
    }
  }

  /** Extends the lock while this gateway's backup runs (only while it is still ours). */
  private async renew(token: string): Promise<void> {
    try {
      if ((await this.o.target.client.get(this.lockKey)) === token) await this.o.target.client.pexpire(this.lockKey, this.lockMs);
    } catch {
      // A missed renewal only risks a second gateway starting a backup too: the files do not collide.
    }
  }
}
