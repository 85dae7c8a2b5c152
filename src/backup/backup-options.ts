import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load-config.js';
import { parseTo } from '../replay/replay-window.js';
import { BackupDir } from './backup-dir.js';

/** `hexfleet backup <action>` as parsed. */
export type BackupOptions =
  | { action: 'create'; json: boolean }
  | { action: 'list'; json: boolean }
  | { action: 'verify'; id: string | undefined; all: boolean; json: boolean }
  | { action: 'restore'; id: string | undefined; to: number | undefined; force: boolean; json: boolean };

/** `hexfleet backup --help`. */
export const BACKUP_HELP = `hexfleet backup: encrypted backups of the Redis store, and point-in-time restore

Usage:
  hexfleet backup create [--json]
  hexfleet backup list [--json]
  hexfleet backup verify [--id ID | --all] [--json]
  hexfleet backup restore [--to TIME|now] [--id ID] [--force] [--json]

  create    snapshot every key under the prefix (each shard of a cluster) into one file in
            HEXFLEET_BACKUP_DIR, AES-256-GCM under the key in HEXFLEET_BACKUP_KEY_FILE, with a
            manifest: times, layout, engine, prefix, per-shard key counts and SHA-256, and (with
            HEXFLEET_KAFKA_BROKERS) the event log's end offsets, read before the scan started.
            Runs while gateways serve: the snapshot is fuzzy, the log replay makes it exact.
  list      every backup with its manifest (authenticated; the data is not read: use verify)
  verify    read a whole backup and check every chunk, the manifest and the checksums
            (default: the newest; --all: every one). Exit 1 when one fails.
  restore   restore a backup into the configured store. The whole file is verified first:
            a tampered, truncated or foreign-key backup is refused and nothing is written.
            The prefix must be empty (stop the gateways first); --force deletes every key
            under it before restoring. With HEXFLEET_KAFKA_BROKERS the log is then replayed
            from the backup's offsets to the end of its scan: the fuzzy snapshot becomes the
            exact state of that moment (without a log, run hexfleet reconcile afterwards).
            --to TIME  restore the newest backup completed at or before TIME (ISO 8601, or now),
                       then replay the event log from its offsets up to TIME: the store ends as
                       it was at TIME. Without HEXFLEET_KAFKA_BROKERS the replay is skipped
                       (the output says so) and the store holds the snapshot.
            --id ID    restore this backup (with --to: it must be completed by then)

  --json    the result as JSON on stdout

Needs HEXFLEET_BACKUP_DIR and HEXFLEET_BACKUP_KEY_FILE; create and restore need a Redis engine
(REDIS_URL, HEXFLEET_REDIS_SENTINELS or HEXFLEET_REDIS_CLUSTER): the memory store has nothing to back up.
Progress goes to stderr, at most once a second. Exit status: 0 done; 1 a backup failed verification,
or Redis, Kafka or the disk failed; 2 a usage error or missing configuration.
`;

const ACTIONS = ['create', 'list', 'verify', 'restore'] as const;

/** Parses the arguments after `backup`; throws `ConfigError` (exit 2) naming the flag at fault. */
export function parseBackupArgs(args: string[], now: number): BackupOptions | 'help' {
  const [action, ...rest] = args;
  if (action === undefined || action === '--help' || action === '-h' || action === 'help' || rest.includes('--help') || rest.includes('-h')) return 'help';
  if (!(ACTIONS as readonly string[]).includes(action)) throw new ConfigError(`unknown backup action "${action}"; one of ${ACTIONS.join(', ')} (hexfleet backup --help)`);
  const flags: Record<string, { type: 'string' | 'boolean' }> = { json: { type: 'boolean' } };
  if (action === 'verify') Object.assign(flags, { id: { type: 'string' }, all: { type: 'boolean' } });
  if (action === 'restore') Object.assign(flags, { id: { type: 'string' }, to: { type: 'string' }, force: { type: 'boolean' } });
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, strict: true, allowPositionals: false, options: flags }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see hexfleet backup --help`);
  }
  const json = values.json === true;
  const id = values.id as string | undefined;
  if (id !== undefined && !BackupDir.isId(id)) throw new ConfigError(`--id must be a backup id such as 20261201T101500123Z-3fa9 (hexfleet backup list), got "${id}"`);
  switch (action as (typeof ACTIONS)[number]) {
    case 'create':
      return { action: 'create', json };
    case 'list':
      return { action: 'list', json };
    case 'verify':
      if (id !== undefined && values.all) throw new ConfigError('--id and --all exclude each other');
      return { action: 'verify', id, all: values.all === true, json };
    case 'restore':
      return { action: 'restore', id, to: values.to === undefined ? undefined : parseTo(values.to as string, now), force: values.force === true, json };
  }
}
