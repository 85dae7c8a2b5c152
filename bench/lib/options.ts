import { parseArgs } from 'node:util';

export type Scenario = 'A' | 'B' | 'C';
const SCENARIOS: readonly Scenario[] = ['A', 'B', 'C'];

/** Every parameter of a run; the report prints them next to the figures. */
export interface BenchOptions {
  quick: boolean;
  /** Keep the temp dir (Redis data, gateway logs) instead of removing it. */
  keepLogs: boolean;
  /** Before each measured window, wait up to this long for other processes to leave the CPU alone (0: don't). */
  waitQuietS: number;
  scenarios: Scenario[];
  warmupS: number;
  durationS: number;
  throughput: { drivers: number; batchPings: number; depth: number; loadgens: number; ceilingInflight: number };
  latency: { drivers: number; batchPings: number; periodMs: number; loadgens: number; gateways: number };
  memory: { drivers: number; metroSideKm: number };
}

export const USAGE = `npm run bench:ingest [-- options]

  --quick              short smoke run: 1 s warm-up, 3 s measured, 2,000 drivers
                       in B, 100,000 drivers in C (results go to ingest-quick.md)
  --scenario=A|B|C     run only these scenarios (comma-separated; default all)
                       A throughput (and the Redis-only ceiling), B latency, C memory
  --warmup=SECONDS     warm-up before each measured window (default 3)
  --duration=SECONDS   measured window of A, its ceiling and B (default 15)
  --keep-logs          keep the temp dir with the gateway logs and Redis data
                       (its path is printed); set HEXFLEET_LOG_LEVEL=info to see
                       every connection event
  --wait-quiet=SECONDS before each measured window, wait up to this long for
                       processes outside the benchmark to go quiet (shared
                       machines; default 0 = start at once)
  --help               this text

Environment: BENCH_QUICK=1, BENCH_SCENARIO, BENCH_WARMUP_S, BENCH_DURATION_S
do the same; BENCH_GATEWAY_NODE_ARGS adds node flags to the gateway processes
(e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them). HEXFLEET_* variables set in the environment are passed to the
gateways (on top of the benchmark's own settings) and listed in the report.`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function seconds(name: string, raw: string | undefined, def: number): number {
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new UsageError(`${name} must be a number of seconds in (0, 3600], got "${raw}"`);
  return n;
}

/** Flags win over environment variables; `help: true` means print USAGE and stop. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions & { help: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      scenario: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      'keep-logs': { type: 'boolean' },
      'wait-quiet': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? /^(1|true|yes)$/i.test(env.BENCH_QUICK ?? '');
  const rawScenarios = (values.scenario ?? env.BENCH_SCENARIO ?? 'A,B,C').toUpperCase().split(',').map((s) => s.trim());
  for (const s of rawScenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`--scenario must be A, B or C (comma-separated), got "${s}"`);
  }
  return {
    help: values.help ?? false,
    quick,
    keepLogs: values['keep-logs'] ?? false,
    waitQuietS: values['wait-quiet'] === undefined ? 0 : seconds('--wait-quiet', values['wait-quiet'], 0),
    scenarios: SCENARIOS.filter((s) => rawScenarios.includes(s)),
    warmupS: seconds('--warmup', values.warmup ?? env.BENCH_WARMUP_S, quick ? 1 : 3),
    durationS: seconds('--duration', values.duration ?? env.BENCH_DURATION_S, quick ? 3 : 15),
    // 1,000 drivers × 2 batches of 50 in flight = 100,000 pings in flight: several
    // full store writes (4 × 4,096) queued at all times, and under the gateway's
    // 200,000-ping pending bound, so the gateway is never starved nor refusing.
    throughput: { drivers: 1000, batchPings: 50, depth: 2, loadgens: 1, ceilingInflight: 4 },
    // Issue 2: 20,000 pings/s over 20,000 drivers sending batches of 4, i.e. each
    // driver takes 1 fix/s and uploads 4 every 4 s. 20,000 sockets cannot live in
    // one process (open-file limit 20,000), hence 4 × 5,000 and 2 × 10,000.
    latency: { drivers: quick ? 2000 : 20_000, batchPings: 4, periodMs: 4000, loadgens: 4, gateways: 2 },
    memory: { drivers: quick ? 100_000 : 1_000_000, metroSideKm: 30 },
  };
}
