import type { ReadFrom } from '../eventlog/event-log.js';
import type { StoreReplayProgress, StoreReplaySummary } from './store-replay.js';
import type { TrafficProgress, TrafficSummary } from './traffic-replay.js';

/**
 * What `hexfleet replay` prints: one progress line at a time on stderr, and
 * a summary on stdout whose lines are `name  value`, so scripts can read it
 * (or `--json` for the whole summary object).
 */

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const ms = (v: number): string => v.toFixed(1);

/** One progress line of a store replay (stderr). */
export function storeProgressLine(p: StoreReplayProgress): string {
  return (
    `[replay] ${(p.elapsedMs / 1000).toFixed(1)} s | positions ${n(p.positionRecords)} records, ${n(p.pings)} pings ` +
    `(${n(p.pingsPerSec)}/s) | partitions ${p.partitionsDone}/${p.partitions} done | order events ${n(p.orderRecords)} | undecodable ${n(p.undecodable)}`
  );
}

/** One progress line of a traffic replay (stderr). */
export function trafficProgressLine(p: TrafficProgress): string {
  return (
    `[replay] ${(p.elapsedMs / 1000).toFixed(1)} s | ${(p.replayedMs / 1000).toFixed(1)} s of log time replayed | drivers ${n(p.drivers)} | ` +
    `batches ${n(p.batchesSent)} sent, ${n(p.batchesAcked)} acked, ${n(p.errors)} refused`
  );
}

function fromText(from: ReadFrom): string {
  switch (from.kind) {
    case 'earliest':
      return 'earliest';
    case 'time':
      return new Date(from.at).toISOString();
    case 'offsets':
      return Object.entries(from.offsets)
        .map(([p, o]) => `${p}:${o}`)
        .join(',');
    default:
      throw new Error(`unknown read start ${String(from satisfies never)}`);
  }
}

function table(rows: [string, string | number][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'number' ? n(v) : v}`).join('\n') + '\n';
}

const codes = (c: Record<string, number>): string =>
  Object.keys(c).length === 0
    ? 'none'
    : Object.entries(c)
        .map(([code, count]) => `${code} ${n(count)}`)
        .join(', ');

/** The summary of a store replay, one `name  value` per line, then the undecodable records' offsets. */
export function formatStoreSummary(s: StoreReplaySummary): string {
  const rows: [string, string | number][] = [
    ['mode', s.dryRun ? 'dry run (nothing written)' : 'rebuild stores'],
    ['from (positions)', fromText(s.window.positions)],
    ['from (orders)', fromText(s.window.orders)],
    ['to', s.window.to],
    ['position records', s.positions.records],
    ['pings read', s.positions.pings],
    ['pings applied', s.positions.applied],
    ['duplicates skipped', s.positions.duplicates],
    ['store calls', s.positions.storeCalls],
    ['order events', s.orders.records],
    ['orders', s.orders.orders],
    ['orders restored', s.orders.restored],
    ['orders already current', s.orders.current],
    ['records after --to', s.afterTo],
    ['undecodable records', s.undecodable.count],
    ['drivers unindexed / removed by the sweep at --to', s.sweep ? `${n(s.sweep.unindexed)} / ${n(s.sweep.removed)}` : 'no sweep (dry run)'],
    ['resume with --from', s.resumeFrom || '(nothing read)'],
    ['elapsed s', (s.elapsedMs / 1000).toFixed(2)],
    ['pings/s', s.pingsPerSec],
  ];
  let out = table(rows);
  for (const u of s.undecodable.first) out += `undecodable  ${u.topic} partition ${u.partition} offset ${u.offset}: ${u.reason}\n`;
  if (s.undecodable.count > s.undecodable.first.length) out += `undecodable  … and ${n(s.undecodable.count - s.undecodable.first.length)} more\n`;
  return out;
}

/** The summary of a traffic replay, one `name  value` per line. */
export function formatTrafficSummary(s: TrafficSummary): string {
  const lat = s.ackLatencyMs;
  const lag = s.sendLagMs;
  const rows: [string, string | number][] = [
    ['gateway', s.url],
    ['speed', `${s.speed}x`],
    ['window', `${s.window.start ?? fromText(s.window.from)} .. ${s.window.to} (${(s.window.lengthMs / 1000).toFixed(1)} s of traffic)`],
    ['records', s.records],
    ['drivers', s.drivers],
    ['connects / failures / dropped', `${n(s.connects)} / ${n(s.connectFailures)} / ${n(s.disconnects)}`],
    ['batches sent', s.batches.sent],
    ['batches acked', s.batches.acked],
    ['batches refused', codes(s.batches.errors)],
    ['batches unanswered', s.batches.unanswered],
    ['batches not sent (no socket)', s.batches.notSent],
    ['pings sent', s.pings.sent],
    ['pings refused', codes(s.pings.rejected)],
    ['ack latency p50 / p99 / p99.9 / max ms', `${ms(lat.p50)} / ${ms(lat.p99)} / ${ms(lat.p999)} / ${ms(lat.max)}`],
    ['send lag p99 / max ms', `${ms(lag.p99)} / ${ms(lag.max)}`],
    ['undecodable records', s.undecodable.count],
    ['elapsed s', (s.elapsedMs / 1000).toFixed(2)],
  ];
  let out = table(rows);
  for (const u of s.undecodable.first) out += `undecodable  ${u.topic} partition ${u.partition} offset ${u.offset}: ${u.reason}\n`;
  return out;
}
