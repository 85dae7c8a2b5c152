import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.js';
import { createBackend, openKafkaEventLog } from '../backend/create-backend.js';
import type { Config } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import type { EventLog } from '../eventlog/event-log.js';
import { topicsOf } from '../eventlog/topics.js';
import { listBackups } from './backup-catalog.js';
import { BackupDir } from './backup-dir.js';
import { BackupVerificationError } from './backup-errors.js';
import { loadBackupKey } from './backup-key.js';
import { BACKUP_HELP, type BackupOptions, parseBackupArgs } from './backup-options.js';
import {
  createProgressLine, formatCreated, formatList, formatRestored, formatVerified, restoreProgressLine,
} from './backup-report.js';
import { backupEngineOf, type OpenedTarget, openBackupTarget, waitForTarget } from './backup-target.js';
import { createBackup } from './create-backup.js';
import { restoreBackup, type RestoreReplay } from './restore-backup.js';
import { verifyBackup } from './verify-backup.js';

/** What `runBackupCommand` is given by the CLI. */
export interface BackupCommandDeps {
  config: Config;
  /** Engine and Kafka client logs (stderr: stdout is the command's output). */
  logger: Logger;
  out?: (text: string) => void;
  progress?: (text: string) => void;
  now?: () => number;
}

/** How long create and restore wait for Redis to answer before giving up. */
const CONNECT_TIMEOUT_MS = 15_000;
/** A replay writes in large calls: a busy Redis must slow it down, not abort it (as hexfleet replay). */
const REPLAY_COMMAND_TIMEOUT_MS = 30_000;

/**
 * `hexfleet backup create|list|verify|restore` (see BACKUP_HELP). Resolves
 * with the exit status (0, or 1 when a backup failed verification); a
 * usage error or missing configuration throws `ConfigError` (exit 2);
 * any other failure rejects (exit 1) with a message that names the backup.
 */
export async function runBackupCommand(args: string[], deps: BackupCommandDeps): Promise<number> {
  const out = deps.out ?? ((text: string) => void process.stdout.write(text));
  const progress = deps.progress ?? ((text: string) => void process.stderr.write(text));
  const options = parseBackupArgs(args, (deps.now ?? Date.now)());
  if (options === 'help') {
    out(BACKUP_HELP);
    return 0;
  }
  const { config } = deps;
  if (!config.backupDir) throw new ConfigError('hexfleet backup needs HEXFLEET_BACKUP_DIR (where backups are kept) and HEXFLEET_BACKUP_KEY_FILE (the AES-256 key)');
  if (options.action === 'create' || options.action === 'restore') backupEngineOf(config);
  const key = loadBackupKey(config.backupKeyFile);
  const dir = new BackupDir(config.backupDir);
  const ctx = { ...deps, out, progress, dir, key };

  switch (options.action) {
    case 'list': {
      const entries = await listBackups(dir, key);
      out(options.json ? JSON.stringify(entries) + '\n' : formatList(entries));
      return 0;
    }
    case 'verify':
      return verify(options, ctx);
    case 'create':
      return create(options, ctx);
    case 'restore':
      return restore(options, ctx);
  }
}

type Ctx = Required<Pick<BackupCommandDeps, 'out' | 'progress'>> & BackupCommandDeps & { dir: BackupDir; key: Buffer };

async function verify(o: Extract<BackupOptions, { action: 'verify' }>, ctx: Ctx): Promise<number> {
  const ids = await ctx.dir.ids();
  if (ids.length === 0) throw new Error('there are no backups in HEXFLEET_BACKUP_DIR to verify');
  const chosen = o.all ? ids : [o.id ?? ids.at(-1)!];
  const results: { id: string; ok: boolean; reason?: string; keys?: number; fileBytes?: number; elapsedMs: number }[] = [];
  for (const id of chosen) {
    const started = Date.now();
    try {
      const r = await verifyBackup(ctx.dir, ctx.key, id);
      results.push({ id, ok: true, keys: r.manifest.totals.keys, fileBytes: r.fileBytes, elapsedMs: Date.now() - started });
      if (!o.json) ctx.out(formatVerified(id, r, Date.now() - started));
    } catch (err) {
      if (!(err instanceof BackupVerificationError)) throw err;
      results.push({ id, ok: false, reason: err.reason, elapsedMs: Date.now() - started });
      ctx.progress(`hexfleet: backup ${id} failed verification: ${err.reason}\n`);
    }
  }
  if (o.json) ctx.out(JSON.stringify(o.all ? results : results[0]) + '\n');
  return results.every((r) => r.ok) ? 0 : 1;
}

/** The configured store's data, connected; the caller closes it. */
async function target(config: Config): Promise<OpenedTarget> {
  const t = openBackupTarget(config);
  try {
    await waitForTarget(t, CONNECT_TIMEOUT_MS);
  } catch (err) {
    t.close();
    throw err;
  }
  return t;
}

async function create(o: Extract<BackupOptions, { action: 'create' }>, ctx: Ctx): Promise<number> {
  const { config } = ctx;
  const t = await target(config);
  let eventLog: EventLog | undefined;
  try {
    let log;
    if (config.kafkaBrokers) {
      eventLog = openKafkaEventLog(config, ctx.logger);
      const topics = topicsOf(config.kafkaTopicPrefix);
      // As a gateway would: a topic nothing was ever logged to has offsets too (0), not an error.
      await eventLog.ensureTopics([topics.positions, topics.orders].map((name) => ({ name, partitions: config.kafkaPartitions })));
      log = { log: eventLog, topics, settleMs: config.redisCommandTimeoutMs };
    }
    const created = await createBackup({
      target: t,
      dir: ctx.dir,
      key: ctx.key,
      log,
      trigger: 'manual',
      onProgress: (p) => ctx.progress(createProgressLine(p) + '\n'),
    });
    ctx.out(o.json ? JSON.stringify(created) + '\n' : formatCreated(created));
    return 0;
  } finally {
    await eventLog?.close();
    t.close();
  }
}

async function restore(o: Extract<BackupOptions, { action: 'restore' }>, ctx: Ctx): Promise<number> {
  const { config } = ctx;
  const t = await target(config);
  let backend: Backend | undefined;
  const replay: RestoreReplay | undefined = config.kafkaBrokers
    ? {
        topics: topicsOf(config.kafkaTopicPrefix),
        orderRetentionMs: config.orderRetentionMs,
        open: async () => {
          backend = createBackend({ ...config, redisCommandTimeoutMs: Math.max(REPLAY_COMMAND_TIMEOUT_MS, config.redisCommandTimeoutMs) }, ctx.logger);
          await backend.waitUntilReady(CONNECT_TIMEOUT_MS);
          await untilLogReady(backend, Math.max(30_000, config.kafkaTimeoutMs));
          return { log: backend.log!, stores: backend };
        },
      }
    : undefined;
  try {
    const summary = await restoreBackup({
      dir: ctx.dir,
      key: ctx.key,
      target: t,
      id: o.id,
      to: o.to,
      force: o.force,
      replay,
      onProgress: (p) => ctx.progress(restoreProgressLine(p) + '\n'),
    });
    if (summary.replay && 'skipped' in summary.replay) ctx.progress(`hexfleet: log replay skipped: ${summary.replay.skipped}\n`);
    ctx.out(o.json ? JSON.stringify(summary) + '\n' : formatRestored(summary));
    return 0;
  } catch (err) {
    if (err instanceof BackupVerificationError) throw new Error(`${err.message}; nothing was restored`);
    throw err;
  } finally {
    await backend?.close();
    t.close();
  }
}

/** Waits until the backend's event log has its topics (reading offsets before can catch kafkajs without their metadata). */
async function untilLogReady(backend: Backend, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const kafka = (await backend.readiness()).find((c) => c.name === 'kafka');
    if (!kafka || kafka.ok) return;
    if (Date.now() > deadline) throw new Error(`the event log is not ready after ${timeoutMs} ms: ${kafka.detail ?? 'no answer'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
