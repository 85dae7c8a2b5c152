/**
 * The one typed configuration schema of hexfleet.
 *
 * Every option has a type, a documented default and a validation whose error
 * names the environment variable. Variable names derive from the option key
 * (`staleMs` → `HEXFLEET_STALE_MS`) except for the two conventional names
 * `PORT` and `REDIS_URL`. `hexfleet --help` and the table of docs/configuration.md are generated
 * from this list, so the three can never disagree.
 */

export type OptionType = 'int' | 'bool' | 'string' | 'enum';

export interface OptionSpec<T> {
  readonly type: OptionType;
  readonly default: T;
  readonly doc: string;
  /** Overrides the derived `HEXFLEET_*` name. */
  readonly env?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** Secret values are never printed. */
  readonly secret?: boolean;
}

const int = (def: number, min: number, max: number, doc: string, env?: string): OptionSpec<number> =>
  ({ type: 'int', default: def, min, max, doc, ...(env ? { env } : {}) });
const bool = (def: boolean, doc: string): OptionSpec<boolean> => ({ type: 'bool', default: def, doc });
const str = (def: string, doc: string, extra: Partial<OptionSpec<string>> = {}): OptionSpec<string> =>
  ({ type: 'string', default: def, doc, ...extra });
const oneOf = <V extends string>(def: V, values: readonly V[], doc: string): OptionSpec<V> =>
  ({ type: 'enum', default: def, values, doc });

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const configSchema = {
  port: int(8080, 0, 65535, 'TCP port of the gateway (0 picks a free port).', 'PORT'),
  host: str('0.0.0.0', 'Interface the gateway listens on.'),
  adminPort: int(9091, -1, 65535, 'Port of the admin listener: /metrics, /readyz with its details and /healthz, without a token (0 picks a free port; -1: none, and then only an admin token reads them on the public port, where /readyz without one answers its status only).'),
  adminHost: str('127.0.0.1', 'Interface of the admin listener. Loopback by default: whoever reaches it reads metrics and readiness details without a token, so bind it to a pod or private address only where the network keeps it internal.'),
  tlsCertFile: str('', 'PEM certificate (then its intermediates) of the gateway: set with HEXFLEET_TLS_KEY_FILE, it serves https:// and wss:// (TLS 1.2 and 1.3). Reloaded on SIGHUP or when the file changes. Unset: plain http:// and ws://.'),
  tlsKeyFile: str('', 'PEM private key of HEXFLEET_TLS_CERT_FILE (both or neither).'),
  tlsKeyPassphrase: str('', 'Passphrase of an encrypted HEXFLEET_TLS_KEY_FILE; unset: the key is not encrypted.', { secret: true }),
  tlsCaFile: str('', 'PEM CA of client certificates (internal callers): a client certificate it did not sign is refused at the handshake. Clients without one are still admitted (they authenticate with their token).'),
  tlsWatchIntervalMs: int(2000, 0, 1 * HOUR, 'How often the TLS files are checked for a change (a rotation is picked up without SIGHUP); 0: only on SIGHUP.'),
  redisUrl: str('', 'Redis URL (redis://[:password@]host:port/db). Unset: the embedded in-memory store.', { env: 'REDIS_URL', secret: true }),
  store: oneOf('auto', ['auto', 'memory', 'redis', 'sentinel', 'cluster'] as const, 'Engine: auto = cluster when HEXFLEET_REDIS_CLUSTER is set, else sentinel when HEXFLEET_REDIS_SENTINELS is set, else redis when REDIS_URL is set, else memory.'),
  redisSentinels: str('', 'Redis Sentinels (host:port,host:port): selects the Sentinel engine, which follows a failover to the promoted primary by itself.'),
  redisMasterName: str('hexfleet', 'The Sentinel name of the monitored primary (sentinel monitor <name> …).'),
  redisSentinelPassword: str('', 'Password of the Sentinels themselves (requirepass of sentinel.conf); unset: none.', { secret: true }),
  redisPassword: str('', 'Password of the Redis data nodes (Sentinel and Cluster engines; the redis engine takes it from REDIS_URL).', { secret: true }),
  redisMinReplicasAck: int(-1, -1, 16, 'A write is acked only once Redis WAIT confirms it on this many replicas (-1: 1 on Sentinel and Cluster, 0 on one Redis). A WAIT that times out fails the write with store_unavailable: not acked, safe to retry.'),
  redisReplicaAckTimeoutMs: int(1000, 10, 60_000, 'How long a write waits for HEXFLEET_REDIS_MIN_REPLICAS_ACK replicas before it fails (not acked).'),
  redisCluster: str('', 'Redis Cluster seed nodes (host:port,host:port): selects the Cluster engine (drivers sharded by area, orders by id).'),
  redisAreaResolution: int(3, 0, 7, 'H3 resolution of an area (res 3: ~12,000 km², a metropolitan market). Cluster engine: a driver\'s record, cell entries and reservation live on the shard of its area. Every Redis engine: positions are fanned out on one channel per area, and HEXFLEET_MARKETS names areas. Every gateway of a deployment must agree.'),
  backupDir: str('', 'Where hexfleet backup writes and finds backups: a directory on another disk than Redis\'s data. Unset: backups are off.'),
  backupKeyFile: str('', 'File holding the 32-byte AES-256-GCM backup key (64 hex characters or 32 raw bytes). Required with HEXFLEET_BACKUP_DIR.', { secret: true }),
  backupIntervalMs: int(0, 0, 30 * DAY, 'How often a gateway takes a scheduled backup (0: never; hexfleet backup create on demand). One gateway of a deployment takes it.'),
  backupKeep: int(24, 1, 10_000, 'Scheduled backups kept; older ones are deleted after a new one is verified.'),
  redisTlsCaFile: str('', 'PEM CA that signed the Redis servers\' certificates (rediss:// URLs; Sentinel and Cluster engines with HEXFLEET_REDIS_TLS); unset: the system CAs.'),
  redisTlsCertFile: str('', 'PEM client certificate for Redis (tls-auth-clients yes), with HEXFLEET_REDIS_TLS_KEY_FILE.'),
  redisTlsKeyFile: str('', 'PEM private key of HEXFLEET_REDIS_TLS_CERT_FILE.', { secret: true }),
  redisTls: bool(false, 'Sentinel and Cluster engines: TLS to every node (and to the Sentinels). The redis engine takes it from a rediss:// URL.'),
  redisPrefix: str('hf', 'Prefix of every Redis key hexfleet writes (letters, digits, _ - . :).'),
  redisCommandTimeoutMs: int(2000, 50, 60_000, 'A Redis command that has not answered by then fails (the batch is not acked).'),
  jwtSecret: str('', 'HS256 secret: verifies HS256 tokens and signs the tokens hexfleet mints (at least 32 characters). Serve needs it or a JWKS; token and the tracking-token route need it.', { secret: true }),
  jwksUrl: str('', 'http(s) URL of a JWKS whose RS256, ES256 and EdDSA keys verify tokens (chosen by kid); read at start, every HEXFLEET_JWKS_REFRESH_MS and soon after a token names an unknown kid. Exclusive with HEXFLEET_JWKS_FILE.'),
  jwksFile: str('', 'A JWKS file instead of a URL (read again every HEXFLEET_JWKS_REFRESH_MS, so replacing it rotates keys without a restart).'),
  jwksRefreshMs: int(5 * MINUTE, 1 * SECOND, 1 * DAY, 'How often the JWKS is read again (a key removed by the issuer stops verifying within this long).'),
  jwksMinRefreshMs: int(10 * SECOND, 0, 1 * HOUR, 'Shortest time between two JWKS reads asked for by tokens of an unknown kid (refused meanwhile with unknown_key, retry).'),
  jwksTimeoutMs: int(2 * SECOND, 10, 60 * SECOND, 'A JWKS fetch that has not answered by then fails; 3 failures in a row open a breaker for 30 s. The keys held keep verifying.'),
  jwtIssuer: str('', 'Required iss claim of every token; unset: not checked.'),
  jwtAudience: str('', 'Required aud claim (equal, or in the array); unset: not checked.'),
  tokenMaxTtlDriverS: int(1 * DAY / SECOND, 60, 30 * DAY / SECOND, 'Longest lifetime of a driver token (exp − iat, or exp − now without iat), seconds; every token must have exp.'),
  tokenMaxTtlCustomerS: int(1 * DAY / SECOND, 60, 30 * DAY / SECOND, 'Longest lifetime of a customer token, seconds.'),
  tokenMaxTtlServiceS: int(1 * DAY / SECOND, 60, 30 * DAY / SECOND, 'Longest lifetime of a service token, seconds.'),
  tokenMaxTtlAdminS: int(1 * HOUR / SECOND, 60, 30 * DAY / SECOND, 'Longest lifetime of an admin token, seconds (tracker tokens: HEXFLEET_TRACKING_TOKEN_TTL_S).'),
  tokenCacheSize: int(10_000, 0, 10_000_000, 'Verified tokens kept by their string, so a client presenting the same token pays one signature check (expiry and revocation are checked on every use; 0: no cache).'),
  mfaAmr: str('mfa,otp,hwk', 'amr values (comma-separated) that show a second factor: admin actions need a token with one of them.'),
  mfaMaxAgeS: int(1 * HOUR / SECOND, 1, 30 * DAY / SECOND, 'Longest time since auth_time (when the second factor was used) for an admin action, seconds.'),
  h3Resolution: int(9, 5, 12, 'H3 resolution of the driver cell index (see docs/geo-store-design.md: why 9).'),
  staleMs: int(30 * SECOND, 1, 7 * DAY, 'A driver silent for longer is stale: served with stale=true and left out of nearby() unless asked.'),
  offlineMs: int(1 * HOUR, 1, 30 * DAY, 'A driver silent for longer leaves the cell index (its record stays readable).'),
  retentionMs: int(7 * DAY, 1, 365 * DAY, 'A driver silent for longer is forgotten entirely.'),
  sweepIntervalMs: int(30 * SECOND, 10, 1 * HOUR, 'How often the offline/retention sweeper runs.'),
  maxFutureMs: int(30 * SECOND, 0, 1 * HOUR, 'A ping whose ts is further in the future is rejected (ts_in_future).'),
  maxAgeMs: int(1 * DAY, 1 * SECOND, 30 * DAY, 'A ping whose ts is older is rejected (ts_too_old).'),
  maxBatch: int(500, 1, 10_000, 'Most pings in one frame (batch_too_large).'),
  maxFrameBytes: int(64 * 1024, 256, 16 * 1024 * 1024, 'Largest WebSocket frame; a larger one drops the connection (the client sees 1006).'),
  ratePingsPerSec: int(100, 1, 1_000_000, 'Sustained pings/s one driver connection may send.'),
  rateBurst: int(2000, 1, 10_000_000, 'Burst allowance of the per-connection rate limit (a client flushing its offline buffer).'),
  badFrameLimit: int(10, 1, 10_000, 'Malformed frames tolerated per connection per minute before closing it with 4400.'),
  frameRatePerSec: int(200, 1, 100_000, 'Sustained frames/s one WebSocket connection (driver or tracking) may send, whatever their type; a frame past it is dropped with too_many_frames and counts against HEXFLEET_BAD_FRAME_LIMIT.'),
  frameBurst: int(2000, 1, 1_000_000, 'Burst allowance of the per-connection frame rate (an app resending its buffer after a reconnect).'),
  httpServiceRatePerSec: int(50_000, 1, 10_000_000, 'Sustained request cost/s one service token (role service, per subject) may spend on the HTTP API: a request costs 1, a nearby query 1 per started km of radius (a 20 km query costs 20). Past it: 429 too_many_requests with Retry-After.'),
  httpServiceBurst: int(100_000, 1, 100_000_000, 'Burst allowance of HEXFLEET_HTTP_SERVICE_RATE_PER_SEC.'),
  httpUserRatePerSec: int(100, 1, 10_000_000, 'The same for every other role (admin, driver, customer, tracker), per token subject: people and apps, not services.'),
  httpUserBurst: int(400, 1, 100_000_000, 'Burst allowance of HEXFLEET_HTTP_USER_RATE_PER_SEC (at least the dearest request, a nearby query at HEXFLEET_NEARBY_MAX_RADIUS_M).'),
  idleTimeoutS: int(120, 8, 960, 'A driver socket that sends nothing for this long is closed (uWebSockets.js idleTimeout).'),
  maxBackpressureBytes: int(256 * 1024, 1024, 64 * 1024 * 1024, 'Unsent bytes a socket may hold; past it the socket is closed with 4008.'),
  ingestMaxPending: int(200_000, 100, 10_000_000, 'Pings waiting for the store across all connections; past it batches get overloaded.'),
  ingestMaxInflight: int(4, 1, 64, 'Store writes in flight at once (each carries many batches).'),
  ingestFlushPings: int(4096, 1, 100_000, 'Most pings in one store write.'),
  readIndex: oneOf('local', ['local', 'backend'] as const, 'Where nearby reads (GET /v1/drivers/nearby, match candidates) go on a Redis engine: local = a follower of the driver index in this gateway, fed by the positions every gateway publishes (microseconds; reserving still checks the backend); backend = Redis on every read.'),
  readIndexMaxLagMs: int(1000, 0, 60 * SECOND, 'The local read index answers only while positions reach it within this long of being stored; past it (and while it syncs) reads go to the backend.'),
  markets: str('', 'The markets whose drivers this gateway\'s read index holds and follows: a comma list of H3 cells (each stands for its area at HEXFLEET_REDIS_AREA_RESOLUTION) and lat,lng points (the area around each). Unset: every area (one pattern subscription). A nearby query whose circle reaches outside them goes to the backend. For a region whose positions outgrow what one gateway can decode (see bench:fanout).'),
  nearbyMaxRadiusM: int(20_000, 1, 200_000, 'Largest radius nearby() accepts.'),
  nearbyMaxLimit: int(500, 1, 10_000, 'Largest limit nearby() accepts.'),
  matchRadiusM: int(3000, 1, 200_000, 'Search radius of POST /v1/match when the request gives none (at most HEXFLEET_NEARBY_MAX_RADIUS_M).'),
  matchCandidates: int(10, 1, 500, 'Nearest available drivers ranked by ETA per match.'),
  matchMaxAttempts: int(5, 1, 100, 'Offers per order before it fails (never the same driver twice).'),
  offerTimeoutMs: int(20 * SECOND, 100, 10 * MINUTE, 'How long a driver has to answer an offer.'),
  reservationMarginMs: int(10 * SECOND, 1 * SECOND, 10 * MINUTE, 'A reservation outlives its offer by this much, so a late expiry never frees a driver early.'),
  searchLeaseMs: int(5 * SECOND, 100, 10 * MINUTE, 'A process searching a driver owns the order this long; if it dies, another takes over.'),
  batchWindowMs: int(2 * SECOND, 10, 60 * SECOND, 'How long a mode=batch match waits for other orders of its area.'),
  batchAreaResolution: int(6, 0, 10, 'H3 resolution of a batch area: orders whose pickups share a cell are assigned together.'),
  orderRetentionMs: int(7 * DAY, 1 * MINUTE, 365 * DAY, 'How long a finished order (completed, failed, cancelled) stays readable.'),
  idempotencyTtlMs: int(1 * DAY, 1 * MINUTE, 30 * DAY, 'How long an Idempotency-Key stays bound to its order.'),
  deadlinePollMs: int(250, 10, 60 * SECOND, 'How often a gateway looks for expired offers and abandoned searches.'),
  reconcileIntervalMs: int(10 * MINUTE, 0, 1 * DAY, 'How often each gateway runs reconciliation (0: only on demand, hexfleet reconcile); a full run reads every driver record (~7 s of Redis time at 1M drivers).'),
  dispatchThreads: int(1, 1, 64, 'Worker threads scoring and solving matches (piscina).'),
  dispatchMaxQueue: int(256, 0, 100_000, 'Tasks that may wait for a dispatch worker; past it matches answer 503 with Retry-After (bulkhead).'),
  dispatchRankInThreadMax: int(100, 0, 10_000, 'Candidate lists of at most this many drivers are ranked on the event loop, where that is cheaper than a hop to a dispatch worker (bench:match, scenario rank: 100 sort in ~20 µs, a hop costs the loop 30-75 µs; at 200 the two are about even); longer lists and batch solving go to the pool and its bulkhead. 0: every ranking goes to the pool.'),
  etaDetourFactor: int(130, 100, 300, 'Road distance ÷ straight-line distance, in percent, for the great-circle ETA.'),
  osrmUrl: str('', 'Routing service root (OSRM HTTP API); unset: great-circle ETAs only.'),
  osrmTimeoutMs: int(250, 10, 60_000, 'Per-attempt timeout of a routing service call.'),
  osrmRetries: int(2, 0, 10, 'Retries of a routing service call after transient failures (exponential backoff, full jitter).'),
  osrmBreakerThreshold: int(5, 1, 1000, 'Consecutive routing service failures that open the circuit breaker.'),
  osrmHalfOpenAfterMs: int(10 * SECOND, 100, 1 * HOUR, 'How long the breaker stays open before one probe call.'),
  trackingTokenTtlS: int(2 * 60 * 60, 10, 7 * 24 * 60 * 60, 'Lifetime of a tracker token from POST /v1/orders/:id/tracking-token, in seconds.'),
  degradedMs: int(10 * SECOND, 1, 1 * HOUR, 'Tracking: a driver silent for longer is shown as degraded (last-known position with its age); lost past HEXFLEET_OFFLINE_MS.'),
  trackMaxHz: int(2, 1, 1000, 'Tracking: most position frames per second per subscriber and stream (order, or driver of an area); latest wins.'),
  trackMaxSubscriptions: int(100, 1, 10_000, 'Tracking: orders plus areas one /v1/track connection may watch at once.'),
  trackBufferBytes: int(64 * 1024, 1024, 64 * 1024 * 1024, 'Tracking: unsent bytes above which a subscriber gets no positions (they wait, latest wins) until it reads.'),
  trackSlowConsumerMs: int(10 * SECOND, 10, 10 * MINUTE, 'Tracking: a subscriber above HEXFLEET_TRACK_BUFFER_BYTES for this long is closed with 4008.'),
  kafkaBrokers: str('', 'Kafka bootstrap brokers (host:port,host:port). Unset: no event log; an ack means the store applied the pings. Set: an ack also means the log holds them.'),
  kafkaTopicPrefix: str('hexfleet', 'Prefix of every Kafka topic: <prefix>.positions, <prefix>.orders, <topic>.dlq (letters, digits, . _ -).'),
  kafkaClientId: str('hexfleet', 'Kafka client id (broker logs and quotas).'),
  kafkaPartitions: int(6, 1, 10_000, 'Partitions of the topics hexfleet creates when they are missing (existing topics are left as they are).'),
  kafkaReplicationFactor: int(1, 1, 16, 'Replication factor of the topics hexfleet creates (3 in production; 1 for a single broker).'),
  kafkaTimeoutMs: int(5 * SECOND, 100, 5 * MINUTE, 'An append the log has not confirmed by then fails (the batch is not acked); also the connection and request timeout.'),
  kafkaSsl: bool(false, 'Connect to Kafka over TLS.'),
  kafkaCaFile: str('', 'PEM file of the CA that signed the brokers\' certificates (TLS); unset: the system CAs.'),
  kafkaSaslMechanism: oneOf('none', ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, 'SASL mechanism for Kafka.'),
  kafkaSaslUsername: str('', 'SASL user name for Kafka.'),
  kafkaSaslPassword: str('', 'SASL password for Kafka.', { secret: true }),
  replicateFrom: str('', 'Cross-region replication: the other regions whose event logs MirrorMaker 2 mirrors into this region\'s Kafka (comma-separated names, as their HEXFLEET_REGION). The gateways apply their mirrored <region>.<prefix>.positions, .orders and .ownership to this region\'s store (one consumer group per region), and region ownership is on: each driver and order has one home region that alone dispatches it (docs/regions.md); needs HEXFLEET_REGION and HEXFLEET_KAFKA_BROKERS. Unset: nothing is replicated in, and every driver may be dispatched here.'),
  outboxRelayIntervalMs: int(100, 5, 60 * SECOND, 'How often the outbox relay looks for order events to publish when it found none (it keeps going while there are).'),
  webhookUrl: str('', 'Where order events are POSTed (the order service); unset: no notifications. Needs HEXFLEET_KAFKA_BROKERS.'),
  webhookSecret: str('', 'Key of the HMAC-SHA256 signature of every webhook body (X-Hexfleet-Signature header); required with HEXFLEET_WEBHOOK_URL.', { secret: true }),
  webhookTimeoutMs: int(2 * SECOND, 50, 5 * MINUTE, 'Timeout of one webhook delivery attempt.'),
  webhookMaxAttempts: int(8, 1, 1000, 'Delivery attempts of one event (exponential backoff with jitter) before it goes to the dead-letter topic.'),
  webhookBackoffMs: int(200, 1, 10 * MINUTE, 'First retry delay of a webhook delivery; doubles each attempt, full jitter, capped at HEXFLEET_WEBHOOK_BACKOFF_MAX_MS.'),
  webhookBackoffMaxMs: int(30 * SECOND, 1, 1 * HOUR, 'Longest retry delay of a webhook delivery.'),
  webhookBreakerThreshold: int(5, 1, 1000, 'Consecutive webhook failures that open its circuit breaker (deliveries wait instead of hammering the receiver).'),
  webhookHalfOpenAfterMs: int(5 * SECOND, 100, 1 * HOUR, 'How long the webhook breaker stays open before one probe delivery.'),
  auditLog: str('', 'Audit trail (who did or tried what, from where): a file path, appended one JSON object per line (ECS style) and reopened on SIGHUP for logrotate, or - for stdout (the operational log then goes to stderr). Unset: no audit file (with HEXFLEET_KAFKA_BROKERS the trail still goes to <prefix>.audit).'),
  auditKafka: bool(true, 'With HEXFLEET_KAFKA_BROKERS: also append the audit trail to the <prefix>.audit topic (key: the gateway id).'),
  auditKafkaBuffer: int(10_000, 1, 1_000_000, 'Audit lines held in memory while Kafka is slow or down (retried with backoff); past it new lines are dropped and counted (hexfleet_audit_dropped_total), never a request slowed.'),
  authFailureBurst: int(20, 0, 1_000_000, 'Failed authentications from one address (or for one token subject) within HEXFLEET_AUTH_FAILURE_WINDOW_MS that make a burst: hexfleet_auth_failure_bursts_total, an audit event, and the address cools off. 0: no detection.'),
  authFailureWindowMs: int(1 * MINUTE, 100, 1 * DAY, 'The window HEXFLEET_AUTH_FAILURE_BURST failures are counted in.'),
  authCooloffMs: int(5 * MINUTE, 0, 1 * DAY, 'How long an address that made a burst is refused (429 auth_cooloff, Retry-After) on HTTP and WebSocket upgrades, before any token is read; 0: bursts are reported, nobody is refused. A subject\'s burst refuses nobody (anyone can write any subject into a forged token).'),
  trustedProxies: str('', 'Peer addresses (comma-separated, exact, as the gateway sees them) of load balancers whose X-Forwarded-For is believed: for a request or upgrade from one of them, the audit trail and the cool-off use the last address of that header (the one the balancer saw). Unset: always the TCP peer.'),
  authFailureTracked: int(100_000, 100, 10_000_000, 'Most addresses plus subjects the burst detector counts at once, and most addresses cooling off at once (about 100 bytes each): past it the oldest are forgotten, so rotating addresses cannot grow memory.'),
  region: str('', 'Name of the region this gateway serves (letters, digits, _ -; e.g. eu-west). Every gateway of a region names the same; needed with HEXFLEET_REGION_ENDPOINTS. Unset: one region, named default in GET /v1/regions.'),
  regionEndpoints: str('', 'The regions of the deployment and their public base URLs, name=https://host:port comma-separated (a name may repeat: several endpoints, several DNS names). GET /v1/regions lists them; the gateway probes every other region\'s endpoints (GET /v1/regions there) and shows a region that does not answer as unreachable with the age of its last good probe. Unset: GET /v1/regions lists this region only.'),
  regionProbeIntervalMs: int(5000, 100, 10 * MINUTE, 'How often the other regions of HEXFLEET_REGION_ENDPOINTS are probed (one timer for all).'),
  regionProbeTimeoutMs: int(2000, 50, 60 * SECOND, 'A region probe that has not answered by then fails; 3 failures in a row open that region\'s breaker (probed again after HEXFLEET_REGION_PROBE_INTERVAL_MS x 3).'),
  opsTileUrl: str('', 'Base map of the operations map (/ops): a raster tile URL with {z}, {x} and {y} (e.g. https://tile.example.com/{z}/{x}/{y}.png), loaded by the operator\'s browser. Unset: no base map; the page draws drivers, H3 cells and orders on a grid with a scale.'),
  logLevel: oneOf('info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'pino log level.'),
  allowUwsFallback: bool(false, 'Start even when the native uWebSockets.js binding did not load (slow JS imitation).'),
} as const;

export type ConfigSchema = typeof configSchema;
export type ConfigKey = keyof ConfigSchema;
export type Config = { -readonly [K in ConfigKey]: ConfigSchema[K] extends OptionSpec<infer T> ? T : never };

/** `staleMs` → `HEXFLEET_STALE_MS`, unless the option names its own variable. */
export function envName(key: ConfigKey): string {
  const spec: OptionSpec<unknown> = configSchema[key];
  return spec.env ?? 'HEXFLEET_' + key.replace(/([A-Z]+)/g, '_$1').toUpperCase();
}
