import { TokenService } from '../auth/tokens.js';
import { ConfigError } from '../config/load-config.js';
import type { EventLog } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import { parseReplayArgs, REPLAY_HELP } from './replay-options.js';
import { formatStoreSummary, formatTrafficSummary, storeProgressLine, trafficProgressLine } from './replay-report.js';
import { replayStores, type ReplayStores } from './store-replay.js';
import { replayTraffic } from './traffic-replay.js';

/** What a replay needs of a backend: a `Backend` from createBackend fits as it is. */
export interface ReplayBackend extends ReplayStores {
  /** The event log; undefined when HEXFLEET_KAFKA_BROKERS is not set. */
  readonly log: EventLog | undefined;
  readonly topics: Topics;
}

/** What `runReplayCommand` is given by the CLI (tests give fakes). */
export interface ReplayDeps {
  /**
   * Opens the configured backend, ready (createBackend + waitUntilReady).
   * Called only once the flags are valid, so `--help` and a usage error need
   * neither Kafka nor Redis; the caller closes what it opened.
   */
  backend: () => Promise<ReplayBackend>;
  /** HEXFLEET_JWT_SECRET signs the tokens of a traffic replay (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Where the summary goes (default stdout). */
  out?: (text: string) => void;
  /** Where progress goes (default stderr). */
  progress?: (text: string) => void;
  /** The clock `--to now` reads (default Date.now). */
  now?: () => number;
  /** HEXFLEET_ORDER_RETENTION_MS: how long a restored finished order stays (absent: kept). */
  orderRetentionMs?: number;
}

/** Driver tokens of a traffic replay last as long as the simulator's: a day, far longer than any window. */
const TOKEN_TTL_S = 24 * 3600;

/**
 * `hexfleet replay`: rebuilds the stores from the event log, or replays the
 * recorded driver traffic against a gateway (see `REPLAY_HELP`). Resolves
 * with the exit status: 0 done, 1 a traffic replay whose batches were not
 * all acked; a usage error or missing configuration
 * throws `ConfigError` (the CLI exits 2), a store or log failure rejects
 * with it (exit 1).
 *
 * Wiring, in src/cli.ts:
 *
 *   let backend: Backend | undefined;
 *   try {
 *     process.exitCode = await runReplayCommand(rest, {
 *       orderRetentionMs: config.orderRetentionMs,
 *       backend: async () => {
 *         backend = createBackend(config, log);
 *         await backend.waitUntilReady(…);
 *         return backend;
 *       },
 *     });
 *   } finally {
 *     await backend?.close();
 *   }
 */
export async function runReplayCommand(args: string[], deps: ReplayDeps): Promise<number> {
  const out = deps.out ?? ((text: string) => void process.stdout.write(text));
  const progress = deps.progress ?? ((text: string) => void process.stderr.write(text));
  const options = parseReplayArgs(args, (deps.now ?? Date.now)());
  if (options === 'help') {
    out(REPLAY_HELP);
    return 0;
  }
  let tokens: TokenService | undefined;
  if (options.mode === 'traffic') {
    const secret = (deps.env ?? process.env).HEXFLEET_JWT_SECRET ?? '';
    if (secret.length < 32) {
      throw new ConfigError("HEXFLEET_JWT_SECRET (the gateway's secret, at least 32 characters) is required: a traffic replay signs its drivers' tokens with it");
    }
    tokens = new TokenService(secret);
  }

  const backend = await deps.backend();
  if (!backend.log) throw new ConfigError('replay reads the event log: set HEXFLEET_KAFKA_BROKERS (and HEXFLEET_KAFKA_TOPIC_PREFIX if the gateways use one)');

  if (options.mode === 'store') {
    if (backend.drivers.kind === 'memory' && !options.dryRun) {
      throw new ConfigError('replay writes into the shared store: set REDIS_URL. The memory store would be lost when this command exits (--dry-run runs without one)');
    }
    const summary = await replayStores(backend.log, backend.topics, backend, {
      window: options.window,
      dryRun: options.dryRun,
      orderRetentionMs: deps.orderRetentionMs,
      onProgress: (p) => progress(storeProgressLine(p) + '\n'),
    });
    out(options.json ? JSON.stringify(summary) + '\n' : formatStoreSummary(summary));
    return 0;
  }

  const signer = tokens!;
  const summary = await replayTraffic(backend.log, backend.topics, {
    window: options.window,
    speed: options.speed,
    url: options.url,
    idPrefix: options.idPrefix,
    token: (driverId, vehicle) => signer.sign({ role: 'driver', sub: driverId, ttlS: TOKEN_TTL_S, ...(vehicle ? { vehicle } : {}) }),
    onProgress: (p) => progress(trafficProgressLine(p) + '\n'),
  });
  out(options.json ? JSON.stringify(summary) + '\n' : formatTrafficSummary(summary));
  return summary.batches.acked === summary.records ? 0 : 1;
}
