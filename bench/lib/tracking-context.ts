import { parseArgs } from 'node:util';
import { UsageError } from './options.js';

/** Every parameter of a bench:tracking run; the report prints them next to the figures. */
export interface TrackingBenchOptions {
  quick: boolean;
  keepLogs: boolean;
  /** Before the measured window, wait up to this long for other processes to go quiet (0: don't). */
  waitQuietS: number;
  warmupS: number;
  durationS: number;
  /** Drivers on gateway A, one accepted order each. */
  drivers: number;
  /** Subscribers on gateway B, subscriber g watching order g mod drivers. */
  subscribers: number;
  /** Each driver sends one ping (one frame) every periodMs. */
  periodMs: number;
  /** Subscribers per subscriber process (each process holds that many sockets: open-file limit). */
  perProcess: number;
}

/** Issue 4: 20,000 deliveries/s. */
export const TARGET_DELIVERIES_PER_S = 20_000;
/**
 * 19,000, not 20,000: one gateway process may hold 20,000 open files (hard
 * limit, cannot be raised) and also needs its listening socket, its Redis
 * connections, its log file, epoll and timer descriptors, and Node's own.
 */
export const FULL_SUBSCRIBERS = 19_000;

export const TRACKING_USAGE = `npm run bench:tracking [-- options]

  --quick              smoke run: 100 drivers, 1,000 subscribers, 1 s warm-up,
                       3 s measured (results go to tracking-quick.md)
  --drivers=N          drivers on gateway A, one accepted order each (default 2,000)
  --subscribers=N      subscribers on gateway B, each watching one order
                       (default 19,000: the most one process can hold under
                       the 20,000 open-file limit with its other descriptors)
  --period-ms=MS       each driver sends one ping every MS (default: enough for
                       20,000 deliveries/s over the subscribers, never under
                       the 500 ms throttle interval: 950 ms at 19,000)
  --warmup=SECONDS     warm-up before the measured window (default 3)
  --duration=SECONDS   measured window (default 15)
  --wait-quiet=SECONDS before the measured window, wait up to this long for
                       processes outside the benchmark to go quiet (default 0)
  --keep-logs          keep the temp dir with the gateway logs and Redis data
  --help               this text

HEXFLEET_* variables set in the environment are passed to both gateways (on
top of the benchmark's own settings) and listed in the report.`;

function positive(name: string, raw: string | undefined, def: number, max: number): number {
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${name} must be a number in (0, ${max}], got "${raw}"`);
  return n;
}

export function parseTrackingOptions(argv: string[]): TrackingBenchOptions & { help: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      drivers: { type: 'string' },
      subscribers: { type: 'string' },
      'period-ms': { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      'wait-quiet': { type: 'string' },
      'keep-logs': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? false;
  const drivers = Math.round(positive('--drivers', values.drivers, quick ? 100 : 2000, 100_000));
  const subscribers = Math.round(positive('--subscribers', values.subscribers, quick ? 1000 : FULL_SUBSCRIBERS, 100_000));
  // S subscribers at 1000/period updates/s each = 20,000/s; below 500 ms the 2/s throttle would hold positions back.
  const defPeriod = Math.max(500, Math.round((subscribers * 1000) / TARGET_DELIVERIES_PER_S));
  return {
    help: values.help ?? false,
    quick,
    keepLogs: values['keep-logs'] ?? false,
    waitQuietS: positive('--wait-quiet', values['wait-quiet'], 0, 3600) || 0,
    warmupS: positive('--warmup', values.warmup, quick ? 1 : 3, 3600),
    durationS: positive('--duration', values.duration, quick ? 3 : 15, 3600),
    drivers,
    subscribers,
    periodMs: Math.round(positive('--period-ms', values['period-ms'], quick ? 950 : defPeriod, 60_000)),
    perProcess: 10_000,
  };
}
