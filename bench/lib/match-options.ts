import { parseArgs } from 'node:util';
import { UsageError } from './options.js';

/** Other processes above this share of one core during a window make it noisy (see noisyRetries). */
export const NOISY_OTHERS_PCT = 25;

/** The scenarios of bench:match, in the order a run measures them. */
export type MatchScenario = 'api' | 'nearby' | 'solver';
export const MATCH_SCENARIOS: readonly MatchScenario[] = ['api', 'nearby', 'solver'];

/** Every parameter of a bench:match run; the report prints them next to the figures. */
export interface MatchBenchOptions {
  quick: boolean;
  keepLogs: boolean;
  /** Before each measured window, wait up to this long for other processes to leave the CPU alone (0: don't). */
  waitQuietS: number;
  scenarios: MatchScenario[];
  /** Drivers parked in the city box (100,000; 10,000 in a quick run). */
  drivers: number;
  warmupS: number;
  durationS: number;
  /**
   * Added to the first match run's warm-up: the gateway's ring planner caches
   * ring geometry per origin cell (~8,500 cells in the box), and a gateway
   * that has served a city for a while has them all.
   */
  prewarmS: number;
  /**
   * A window in which processes outside the benchmark used more than
   * NOISY_OTHERS_PCT of one core is measured again, up to this many times;
   * the report keeps the quietest attempt and says so.
   */
  noisyRetries: number;
  /** Offered matches/s of the fixed-rate runs. */
  rate: number;
  /** Connections of the fixed-rate runs (each carries rate ÷ connections matches/s). */
  rateConnections: number;
  /** Connections of the closed-loop max-throughput run. */
  maxConnections: number;
  /** Queries in flight from one process in the nearby() vs GEOSEARCH comparison. */
  nearbyConcurrency: number;
  /** Seconds per shape and implementation in that comparison (split over alternating rounds). */
  nearbyS: number;
  /** Queries whose results are compared id by id. */
  agreementSample: number;
}

/** `npm run bench:match -- --help`. */
export const MATCH_USAGE = `npm run bench:match [-- options]

  --quick              smoke run: 10,000 drivers, 1 s warm-up, 3 s windows,
                       solver --quick (results go to match-quick.md)
  --scenario=LIST      run only these (comma-separated; default all):
                       api     POST /v1/match + cancel through a real gateway (autocannon)
                       nearby  RedisDriverStore.nearby() vs Redis GEOSEARCH
                       solver  npm run bench:solver, its table included
  --warmup=SECONDS     warm-up before each match window (default 5)
  --duration=SECONDS   each match window (default 15)
  --rate=N             matches/s of the fixed-rate runs (default 2000)
  --wait-quiet=SECONDS before each measured window, wait up to this long for
                       processes outside the benchmark to go quiet (shared
                       machines; default 0 = start at once)
  --noisy-retries=N    measure a window again (up to N times, default 2; 0 in
                       --quick) when other processes used more than 25 % of
                       one core during it; the quietest attempt is reported
  --keep-logs          keep the temp dir with the gateway log and Redis data
  --help               this text

Environment: BENCH_GATEWAY_NODE_ARGS adds node flags to the gateway (e.g.
"--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it); HEXFLEET_* variables set
in the environment are passed to the gateway on top of the benchmark's own and
listed in the report.`;

function positive(name: string, raw: string | undefined, def: number, max: number): number {
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${name} must be a number in (0, ${max}], got "${raw}"`);
  return n;
}

function nonNegative(name: string, raw: string, max: number): number {
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`${name} must be a number in [0, ${max}], got "${raw}"`);
  return n;
}

/** Flags only (no BENCH_* variables: bench:ingest owns those names). `help: true`: print MATCH_USAGE and stop. */
export function parseMatchOptions(argv: string[]): MatchBenchOptions & { help: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      scenario: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      'noisy-retries': { type: 'string' },
      'keep-logs': { type: 'boolean' },
      'wait-quiet': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? false;
  const raw = (values.scenario ?? MATCH_SCENARIOS.join(',')).toLowerCase().split(',').map((s) => s.trim());
  for (const s of raw) {
    if (!(MATCH_SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`--scenario must be api, nearby or solver (comma-separated), got "${s}"`);
  }
  const rate = Math.round(positive('--rate', values.rate, 2000, 100_000));
  return {
    help: values.help ?? false,
    quick,
    keepLogs: values['keep-logs'] ?? false,
    waitQuietS: positive('--wait-quiet', values['wait-quiet'], 0, 3600),
    scenarios: MATCH_SCENARIOS.filter((s) => raw.includes(s)),
    drivers: quick ? 10_000 : 100_000,
    warmupS: positive('--warmup', values.warmup, quick ? 1 : 5, 3600),
    durationS: positive('--duration', values.duration, quick ? 3 : 15, 3600),
    // 20 s at 2,000 matches/s: 40,000 random pickups, so all but ~1 % of the
    // box's cells have been an origin before the first window.
    prewarmS: quick ? 2 : 20,
    rate,
    noisyRetries: values['noisy-retries'] === undefined ? (quick ? 0 : 2) : Math.round(nonNegative('--noisy-retries', values['noisy-retries'], 10)),
    // 32 connections at 2,000 matches/s: one match every 16 ms per connection,
    // several times a match + cancel round trip even at p99.9, so a connection
    // is almost never still busy when its next match is due.
    rateConnections: Math.min(32, rate),
    // Closed loop: 16 in flight, the concurrency of the nearby comparison.
    maxConnections: 16,
    nearbyConcurrency: 16,
    nearbyS: quick ? 1 : 6,
    agreementSample: quick ? 200 : 1000,
  };
}
