import type { StoreReplaySummary } from '../replay/store-replay.js';
import { storeProgressLine } from '../replay/replay-report.js';
import type { CatalogEntry } from './backup-catalog.js';
import type { BackupManifest, LogPosition } from './backup-manifest.js';
import type { ReadResult } from './backup-reader.js';
import type { BackupProgress, CreatedBackup } from './create-backup.js';
import type { RestoreProgress, RestoreSummary } from './restore-backup.js';

const int = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** `0:123,1:456` per topic, as `hexfleet replay --from` takes it. */
export function formatOffsets(log: LogPosition | null): string {
  if (!log) return 'none (no event log configured)';
  const fmt = (o: Record<number, string>, p: string): string[] => Object.entries(o).sort(([a], [b]) => Number(a) - Number(b)).map(([k, v]) => `${p}${k}:${v}`);
  return [...fmt(log.positions.offsets, ''), ...fmt(log.orders.offsets, 'orders/')].join(',') || '(empty topics)';
}

function shardsLine(m: BackupManifest): string {
  return m.shards.map((s) => `  shard ${s.shard} ${s.node}: ${int(s.keys)} keys, ${mb(s.bytes)}, sha256 ${s.sha256}`).join('\n');
}

/** One progress line of `backup create` (stderr). */
export function createProgressLine(p: BackupProgress): string {
  return `backup: ${secs(p.elapsedMs)}, shard ${p.shard + 1}/${p.shards}, ${int(p.keys)} keys, ${mb(p.bytes)} written`;
}

/** `backup create`'s summary (stdout). */
export function formatCreated(c: CreatedBackup): string {
  const m = c.manifest;
  return (
    `backup ${m.id} created: ${int(m.totals.keys)} keys of ${m.engine} under ${m.keyPrefix}, ${m.shards.length} shard(s), ` +
    `${mb(c.fileBytes)} on disk (${c.path}), ${secs(c.elapsedMs)}\n` +
    `  completed ${m.createdAt} (scan started ${m.scanStartedAt})\n` +
    `  log offsets (read before the scan${m.log ? ` at ${m.log.readAt}` : ''}): ${formatOffsets(m.log)}\n` +
    shardsLine(m) + '\n'
  );
}

/** `backup list` as a table (stdout). */
export function formatList(entries: readonly CatalogEntry[]): string {
  if (entries.length === 0) return 'no backups in HEXFLEET_BACKUP_DIR\n';
  const rows = entries.map((e) => {
    const m = e.manifest;
    if (!m) return [e.id, '-', '-', '-', '-', mb(e.fileBytes), '-', `UNREADABLE: ${e.error}`];
    return [e.id, m.createdAt, m.trigger, m.engine, int(m.totals.keys), mb(e.fileBytes), m.log ? 'yes' : 'no', 'ok (manifest)'];
  });
  const head = ['id', 'completed', 'trigger', 'engine', 'keys', 'size', 'log offsets', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** `backup verify`'s line for a backup that passed (stdout). */
export function formatVerified(id: string, r: ReadResult, elapsedMs: number): string {
  const m = r.manifest;
  return `backup ${id} verified: ${r.chunks} chunks authenticated, ${int(m.totals.keys)} keys in ${m.shards.length} shard(s) match their counts and SHA-256, ${mb(r.fileBytes)}, ${secs(elapsedMs)}\n`;
}

/** One progress line of `backup restore` (stderr). */
export function restoreProgressLine(p: RestoreProgress): string {
  if (p.phase === 'replay') return `restore: replaying the log: ${storeProgressLine(p.replay)}`;
  return `restore: ${secs(p.elapsedMs)}, ${p.phase === 'verify' ? 'verifying' : 'writing'}, ${int(p.keys)} keys`;
}

function replayLine(r: StoreReplaySummary | { skipped: string } | null, manifest: BackupManifest): string {
  if (r === null) {
    return '  log replay: none (no event log configured): the store holds the snapshot as it was scanned; run hexfleet reconcile once to repair what moved during the scan\n';
  }
  if ('skipped' in r) return `  log replay SKIPPED: ${r.skipped}\n`;
  const from = manifest.log ? `from the backup's offsets ${formatOffsets(manifest.log)}` : 'from the earliest (the backup has no offsets)';
  return (
    `  log replay ${from} to ${r.window.to}: ${int(r.positions.records)} position records (${int(r.positions.applied)} pings applied, ` +
    `${int(r.positions.duplicates)} already held), ${int(r.orders.orders)} orders (${int(r.orders.restored)} restored, ${int(r.orders.current)} current), ` +
    `${int(r.undecodable.count)} undecodable, ${secs(r.elapsedMs)}\n`
  );
}

/** `backup restore`'s summary (stdout). */
export function formatRestored(s: RestoreSummary): string {
  const m = s.manifest;
  return (
    `restored backup ${s.id} (completed ${m.createdAt}) into ${m.keyPrefix}: ${int(s.keys.restored)} keys written` +
    (s.keys.expired > 0 ? `, ${int(s.keys.expired)} expired since (not written)` : '') +
    (s.deleted > 0 ? `, ${int(s.deleted)} keys deleted first (--force)` : '') +
    `; verified in ${secs(s.verifyMs)}, written in ${secs(s.restoreMs)}\n` +
    replayLine(s.replay, m) +
    `  total ${secs(s.elapsedMs)}\n`
  );
}
