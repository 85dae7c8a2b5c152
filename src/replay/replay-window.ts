import { ConfigError } from '../config/load-config.js';
import type { PartitionOffsets, ReadFrom } from '../eventlog/event-log.js';

/**
 * The part of the log a replay reads: where each topic starts and the time
 * it ends at (records with a log timestamp ≤ `to`).
 *
 * A start after the beginning of the log applies only what follows it: the
 * store must already hold the state before it (a backup taken at that point,
 * or an earlier replay). Orders need no such care: each order event carries
 * the whole order, so the newest one in the window is the order's state.
 */
export interface ReplayWindow {
  /** Where the positions topic is read from. */
  positions: ReadFrom;
  /** Where the orders topic is read from. */
  orders: ReadFrom;
  /** Last record time included, ms since the epoch. */
  to: number;
}

/** ISO 8601 as people type it: a date, optionally a time and a zone (`2026-11-27`, `2026-11-27T15:50:26Z`, `…+01:00`). */
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Topic names an offsets entry may be qualified with (`orders/0:17`); unqualified entries are positions. */
const OFFSET_TOPICS = ['positions', 'orders'] as const;

/** An ISO time in ms since the epoch; throws `ConfigError` naming the flag. */
export function parseIsoTime(value: string, flag: string): number {
  const at = ISO.test(value.trim()) ? Date.parse(value.trim()) : NaN;
  if (!Number.isFinite(at)) throw new ConfigError(`--${flag} must be an ISO 8601 time such as 2026-11-27T15:50:26Z, got "${value}"`);
  return at;
}

/**
 * `--from`: `earliest` (default), an ISO time, or offsets `p:o,p:o` (the next
 * offset to read per partition of the positions topic; `orders/p:o` entries
 * give the orders topic's). A topic without entries is read from the
 * earliest (for orders always safe, see `ReplayWindow`).
 */
export function parseFrom(value: string | undefined): Pick<ReplayWindow, 'positions' | 'orders'> {
  if (value === undefined || value.trim() === 'earliest') return { positions: { kind: 'earliest' }, orders: { kind: 'earliest' } };
  const v = value.trim();
  if (/^\d{4}-/.test(v)) {
    const at = parseIsoTime(v, 'from');
    return { positions: { kind: 'time', at }, orders: { kind: 'time', at } };
  }
  const offsets: Record<(typeof OFFSET_TOPICS)[number], PartitionOffsets> = { positions: {}, orders: {} };
  for (const entry of v.split(',')) {
    const m = /^(?:([a-z]+)\/)?(\d+):(\d+)$/.exec(entry.trim());
    const topic = (m?.[1] ?? 'positions') as (typeof OFFSET_TOPICS)[number];
    if (!m || !OFFSET_TOPICS.includes(topic)) {
      throw new ConfigError(
        `--from must be earliest, an ISO 8601 time, or offsets partition:offset,… (optionally orders/partition:offset), got "${value}"`,
      );
    }
    const partition = Number(m[2]);
    if (offsets[topic][partition] !== undefined) throw new ConfigError(`--from names ${topic} partition ${partition} twice`);
    offsets[topic][partition] = String(BigInt(m[3]!));
  }
  const read = (o: PartitionOffsets): ReadFrom => (Object.keys(o).length > 0 ? { kind: 'offsets', offsets: o } : { kind: 'earliest' });
  return { positions: read(offsets.positions), orders: read(offsets.orders) };
}

/** `--to`: `now` (default, the time the replay starts) or an ISO time, which may not be in the future. */
export function parseTo(value: string | undefined, now: number): number {
  if (value === undefined || value.trim() === 'now') return now;
  const at = parseIsoTime(value, 'to');
  if (at > now) throw new ConfigError(`--to ${value} is in the future; use --to now to replay everything`);
  return at;
}

/** The window of `--from` and `--to`; throws `ConfigError` when `--from` is a time after `--to`. */
export function replayWindow(from: string | undefined, to: string | undefined, now: number): ReplayWindow {
  const start = parseFrom(from);
  const end = parseTo(to, now);
  if (start.positions.kind === 'time' && start.positions.at > end) throw new ConfigError(`--from ${from} is after --to ${to ?? 'now'}`);
  return { ...start, to: end };
}

/**
 * The `--from` that continues after a read that ended at `last` (the last
 * offset read per partition of each topic), as the summary prints it.
 */
export function resumeFrom(last: { positions: PartitionOffsets; orders: PartitionOffsets }): string {
  const entries = (o: PartitionOffsets, prefix: string): string[] =>
    Object.entries(o)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([p, offset]) => `${prefix}${p}:${BigInt(offset) + 1n}`);
  return [...entries(last.positions, ''), ...entries(last.orders, 'orders/')].join(',');
}
