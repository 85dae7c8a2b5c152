import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load-config.js';
import { replayWindow, type ReplayWindow } from './replay-window.js';

/** `hexfleet replay` rebuilding the stores (`store`) or replaying driver traffic against a gateway (`traffic`). */
export type ReplayOptions =
  | { mode: 'store'; window: ReplayWindow; dryRun: boolean; json: boolean }
  | { mode: 'traffic'; window: ReplayWindow; speed: number; url: string; idPrefix: string; json: boolean };

/** Fastest replay: beyond it the schedule is a flood, and a flood is what `--speed` exists to avoid. */
const MAX_SPEED = 1000;

/** `hexfleet replay --help`. */
export const REPLAY_HELP = `hexfleet replay: rebuild the stores from the event log, or replay recorded driver traffic

Usage:
  hexfleet replay [--to TIME|now] [--from TIME|earliest|OFFSETS] [--dry-run] [--json]
  hexfleet replay --speed N --url ws://HOST:PORT [--from …] [--to …] [--id-prefix P] [--json]

Rebuilding the stores (no --speed/--url):
  Reads the positions and orders topics from --from to --to and applies them to the configured
  stores through their idempotent write paths: pings through the geo store's seq guard (a ping
  already held, or logged twice, is skipped), each order as its newest event in the window.
  Into an empty store, every driver and order in the log ends as the live system held it at --to.
  Replaying twice equals replaying once. Needs HEXFLEET_KAFKA_BROKERS and a shared store
  (REDIS_URL; the memory store would be lost when the command exits, so only --dry-run runs on it).

  --to TIME|now       last record time included, ISO 8601 (e.g. 2026-11-27T15:50:26Z)  (default now)
  --from WHERE        where reading starts                                            (default earliest)
                        earliest        the beginning of each topic
                        TIME            the first record at or after an ISO 8601 time
                        P:O,P:O         the next offset to read per positions partition; add
                                        orders/P:O entries for the orders topic (without them,
                                        orders are read from the earliest, which is always safe)
                      A start after the beginning applies only what follows it: the store must
                      already hold the state before it (a backup taken there, or an earlier
                      replay). The summary prints the --from that continues where a run ended.
  --dry-run           read, decode and count; write nothing
  --json              the summary as JSON on stdout

Replaying traffic (--speed and --url):
  Replays the recorded driver batches of the window against a running gateway as the drivers
  sent them: one WebSocket per driver, one frame per recorded batch with its recorded seqs,
  each sent at (its record time - window start) / N. Ping timestamps move with their batch, so
  the gateway sees pings as fresh as they were. Stops by itself at the end of the window and
  reports batches sent, acked and refused and the ack latency. Driver tokens are signed with
  HEXFLEET_JWT_SECRET (the gateway's secret; an environment variable, not a flag, so the
  secret never shows in the process list), role driver, the recorded vehicle as claim.

  --speed N           time runs N times faster than recorded, 0 < N <= ${MAX_SPEED}
  --url URL           the gateway, ws:// or wss:// (the path /v1/driver is added when absent)
  --id-prefix P       prepended to every driver id (e.g. replay-), so replayed drivers never
                      overwrite the recorded ones' records                           (default none)
  --from, --to        the window, as above (offsets: positions partitions only)
  --json              the summary as JSON on stdout

Output: a progress line on stderr at most every second, a summary on stdout at the end.
Exit status: 0 done; 1 when a store or the log failed (re-running is safe: replay is idempotent),
or, replaying traffic, when a batch was not acked; 2 on a usage error or missing configuration.
`;

/** Parses the arguments after `replay`; throws `ConfigError` (exit 2) naming the flag at fault. */
export function parseReplayArgs(args: string[], now: number): ReplayOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        to: { type: 'string' },
        from: { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        speed: { type: 'string' },
        url: { type: 'string' },
        'id-prefix': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see hexfleet replay --help`);
  }
  if (values.help) return 'help';
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const window = replayWindow(str('from'), str('to'), now);
  const json = values.json === true;
  const speed = str('speed');
  const url = str('url');
  if (speed === undefined && url === undefined) {
    if (str('id-prefix') !== undefined) throw new ConfigError('--id-prefix only applies to a traffic replay (--speed and --url)');
    return { mode: 'store', window, dryRun: values['dry-run'] === true, json };
  }
  if (speed === undefined) throw new ConfigError('--url replays traffic and needs --speed N too (e.g. --speed 1 for real time)');
  if (url === undefined) throw new ConfigError('--speed replays traffic and needs --url ws://HOST:PORT of a gateway too');
  if (values['dry-run']) throw new ConfigError('--dry-run applies to rebuilding the stores, not to a traffic replay');
  if (window.orders.kind === 'offsets') {
    throw new ConfigError('--from orders/P:O entries do not apply to a traffic replay (it reads positions only)');
  }
  const idPrefix = str('id-prefix') ?? '';
  if (!/^[\x21-\x7e]{0,32}$/.test(idPrefix)) throw new ConfigError(`--id-prefix must be up to 32 printable ASCII characters without spaces, got "${idPrefix}"`);
  return { mode: 'traffic', window, speed: speedOf(speed), url: driverUrl(url), idPrefix, json };
}

function speedOf(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n > MAX_SPEED) {
    throw new ConfigError(`--speed must be a number above 0 and at most ${MAX_SPEED} (1 = real time), got "${v}"`);
  }
  return n;
}

/** The gateway's `/v1/driver` URL of `--url`. */
function driverUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`--url must be a ws:// or wss:// URL, got "${v}"`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new ConfigError(`--url must be a ws:// or wss:// URL, got "${v}"`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/driver';
  u.search = '';
  return u.toString();
}
