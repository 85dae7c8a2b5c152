#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { tokenPolicyOf } from './auth/token-config.js';
import { ROLES, type Role, TokenService } from './auth/tokens.js';
import { destination } from 'pino';
import { ConfigError, configHelp, loadConfig, requireTokenKeys, selectedStore } from './config/load-config.js';
import { createDispatch } from './gateway/create-dispatch.js';
import { formatReport } from './reconcile/reconcile-report.js';
import { isVehicleType, VEHICLE_TYPES } from './domain/vehicle.js';
import { startGateway } from './gateway/gateway.js';
import { auditCommand } from './gateway/create-audit.js';
import { userInfo } from 'node:os';
import { Registry } from 'prom-client';
import type { Backend } from './backend/backend.js';
import { createBackend, openKafkaEventLog } from './backend/create-backend.js';
import { runBackupCommand } from './backup/backup-command.js';
import { topicsOf } from './eventlog/topics.js';
import { DLQ_HELP, runDlqCommand } from './notify/dlq-command.js';
import { runReplayCommand } from './replay/replay-command.js';
import { Metrics } from './runtime/metrics.js';
import { createLogger } from './runtime/logger.js';
import { runSimulate } from './simulator/simulate-command.js';

const USAGE = `hexfleet: real-time driver location engine

Usage:
  hexfleet [serve]                          run the gateway (default)
  hexfleet token --role ROLE --sub ID [--ttl SECONDS] [--vehicle TYPE] [--orders ID,ID] [--mfa]
                                            print a signed token for local use (with exp,
                                            iat and jti; --ttl defaults to the role's longest
                                            lifetime, HEXFLEET_TOKEN_MAX_TTL_<ROLE>_S; --mfa
                                            adds amr ["pwd","mfa"] and auth_time now, which
                                            admin actions need)
                                            (roles: ${ROLES.join(', ')};
                                             vehicles: ${VEHICLE_TYPES.join(', ')})
  hexfleet reconcile [--json]               find and repair, once, what the shared Redis
                                            holds inconsistently (orphaned reservations,
                                            stuck orders, silent accepted drivers, the
                                            cell index); prints a table, or JSON; needs
                                            REDIS_URL (exit 2 without it)
  hexfleet simulate --url ws://HOST:PORT [--drivers N] [--orders-per-minute N] [--duration S] ...
                                            drive simulated drivers, orders and customers
                                            against running gateways (needs HEXFLEET_JWT_SECRET;
                                            hexfleet simulate --help lists every flag)
  hexfleet replay --to TIME|now [--from TIME|earliest|P:O,…] [--dry-run] [--json]
                                            rebuild the geo and order stores from the event log
                                            up to a point in time (needs HEXFLEET_KAFKA_BROKERS);
  hexfleet replay --speed N --url ws://HOST:PORT [--from …] [--to …]
                                            replay recorded driver traffic against a gateway
                                            at N× speed (hexfleet replay --help lists every flag)
  hexfleet dlq list|show|redrive …          inspect and re-drive dead letters of the event log
                                            (hexfleet dlq --help)
  hexfleet backup create|list|verify|restore [--to TIME] [--id ID] [--force] [--json]
                                            encrypted backups of the Redis store (HEXFLEET_BACKUP_DIR,
                                            HEXFLEET_BACKUP_KEY_FILE); restore --to TIME restores the
                                            newest backup before TIME and replays the event log up to
                                            it (hexfleet backup --help)
  hexfleet --help                           this text

Exit codes (every command):
  0  done (serve: stopped by SIGTERM or SIGINT)
  1  a runtime failure: a dependency that does not answer, a port that cannot be bound, a failed shutdown
  2  a configuration or usage error: a missing or invalid HEXFLEET_* variable (serve without
     HEXFLEET_JWT_SECRET or a JWKS included), an unknown variable, command or flag

Configuration (environment variables):
${configHelp()}
`;

async function serve(): Promise<void> {
  const config = loadConfig();
  requireTokenKeys(config);
  // With the audit trail on stdout, stdout carries only audit lines: the operational log goes to stderr.
  const log = createLogger(config.logLevel, config.auditLog === '-' ? destination({ dest: 2, sync: false }) : undefined);
  const gateway = await startGateway(config, log);
  // logrotate moved the audit file away: the next line starts a new one (TLS reloads its certificate on SIGHUP too).
  process.on('SIGHUP', () => gateway.audit.log.reopen());
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    gateway.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function token(args: string[]): Promise<void> {
  let values: { role?: string; sub?: string; ttl?: string; vehicle?: string; orders?: string; mfa?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { role: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string' }, vehicle: { type: 'string' }, orders: { type: 'string' }, mfa: { type: 'boolean' } } }));
  } catch (err) {
    // An unknown or incomplete option is a usage error like the others: exit 2, not 1.
    throw new ConfigError((err as Error).message);
  }
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) {
    throw new ConfigError(`--role must be one of ${ROLES.join(', ')}`);
  }
  if (!values.sub) throw new ConfigError('--sub is required (for a driver: its driver id)');
  const config = loadConfig();
  if (!config.jwtSecret) throw new ConfigError('HEXFLEET_JWT_SECRET is required to sign a token');
  const policy = tokenPolicyOf(config);
  const role = values.role as Role;
  const maxS = policy.maxLifetimeS[role];
  const ttlS = values.ttl === undefined ? maxS : Number(values.ttl);
  if (!Number.isInteger(ttlS) || ttlS <= 0) throw new ConfigError('--ttl must be a positive whole number of seconds');
  // A token the gateways would refuse is not worth printing.
  if (ttlS > maxS) throw new ConfigError(`--ttl ${ttlS} is longer than a ${role} token may live (${maxS} s; raise ${role === 'tracker' ? 'HEXFLEET_TRACKING_TOKEN_TTL_S' : `HEXFLEET_TOKEN_MAX_TTL_${role.toUpperCase()}_S`} on the gateways too)`);
  if (values.vehicle !== undefined && !isVehicleType(values.vehicle)) {
    throw new ConfigError(`--vehicle must be one of ${VEHICLE_TYPES.join(', ')}`);
  }
  const claims = {
    role,
    sub: values.sub,
    ttlS,
    ...(values.mfa ? { amr: ['pwd', 'mfa'], authTimeS: Math.floor(Date.now() / 1000) } : {}),
    ...(values.vehicle ? { vehicle: values.vehicle } : {}),
    // A customer token lists the orders it may watch on /v1/track.
    ...(values.orders ? { orders: values.orders.split(',').filter(Boolean) } : {}),
  };
  const jwt = await new TokenService({ secret: config.jwtSecret, policy }).sign(claims);
  process.stdout.write(jwt + '\n');
  const { jti, exp } = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { jti?: string; exp?: number };
  await auditCommand(config, createLogger(config.logLevel, destination({ dest: 2, sync: true })), new Registry(), {
    action: 'token.mint', outcome: 'success', user: { id: userInfo().username, roles: [] },
    ...(jti ? { target: { type: 'token', id: jti } } : {}),
    details: { via: 'cli', role: claims.role, sub: claims.sub, ...(exp ? { expires_at: new Date(exp * 1000).toISOString() } : {}) },
  });
}

/**
 * One reconciliation against the shared Redis, from outside the gateways
 * (which also run it every HEXFLEET_RECONCILE_INTERVAL_MS). With the memory
 * store it refuses (exit 2) rather than report on an empty store of its own:
 * each gateway's memory is private, and a clean report would mislead.
 */
async function reconcile(args: string[]): Promise<void> {
  let json: boolean | undefined;
  try {
    ({ values: { json } } = parseArgs({ args, options: { json: { type: 'boolean' } } }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const config = loadConfig();
  if (selectedStore(config) !== 'redis') {
    throw new ConfigError(
      'reconcile repairs the state gateways share in Redis; set REDIS_URL. With the embedded memory store ' +
      "each gateway's state is private to it, and each reconciles itself every HEXFLEET_RECONCILE_INTERVAL_MS.",
    );
  }
  // Logs (a warning per repair) go to stderr: stdout is the report.
  const log = createLogger(config.logLevel, destination({ dest: 2, sync: true }));
  const backend = createBackend(config, log);
  try {
    // A few reconnect attempts (ioredis backs off up to 1 s) before giving up.
    await backend.waitUntilReady(Math.max(5_000, config.redisCommandTimeoutMs));
    const dispatch = createDispatch(config, backend, new Metrics(), log, { background: false });
    try {
      const report = await dispatch.reconciler.run(Date.now());
      process.stdout.write(json ? JSON.stringify(report) + '\n' : formatReport(report));
    } finally {
      await dispatch.close();
    }
  } finally {
    await backend.close();
  }
}

/** Redis command timeout of a replay (its calls carry thousands of pings). */
const REPLAY_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Waits until the backend reports its event log ready (topics created):
 * reading offsets while the topics are still being created can catch
 * kafkajs without their metadata.
 */
async function untilLogReady(backend: Backend, timeoutMs: number): Promise<void> {
  if (!backend.log) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const kafka = (await backend.readiness()).find((c) => c.name === 'kafka');
    if (kafka?.ok) return;
    if (Date.now() > deadline) throw new Error(`the event log is not ready after ${timeoutMs} ms: ${kafka?.detail ?? 'no answer'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `hexfleet replay …`: opens the backend only once the flags are valid (help and usage errors need neither Kafka nor Redis). */
async function replay(args: string[]): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, destination({ dest: 2, sync: true }));
  let backend: Backend | undefined;
  try {
    process.exitCode = await runReplayCommand(args, {
      orderRetentionMs: config.orderRetentionMs,
      backend: async () => {
        // A replay writes in large calls: a busy Redis must slow it down, not abort it.
        backend = createBackend({ ...config, redisCommandTimeoutMs: Math.max(REPLAY_COMMAND_TIMEOUT_MS, config.redisCommandTimeoutMs) }, log);
        await backend.waitUntilReady(Math.max(5_000, config.redisCommandTimeoutMs));
        await untilLogReady(backend, Math.max(30_000, config.kafkaTimeoutMs));
        return backend;
      },
    });
  } finally {
    await backend?.close();
  }
}

/** `hexfleet dlq …`: the dead-letter topics of the configured event log. */
async function dlq(args: string[]): Promise<void> {
  const config = loadConfig();
  if (!config.kafkaBrokers) {
    if (args.length === 0 || args.includes('--help') || args[0] === 'help') return void process.stdout.write(DLQ_HELP);
    throw new ConfigError('hexfleet dlq reads the event log: set HEXFLEET_KAFKA_BROKERS');
  }
  const log = createLogger(config.logLevel, destination({ dest: 2, sync: true }));
  const eventLog = openKafkaEventLog(config, log);
  try {
    process.exitCode = await runDlqCommand(args, { log: eventLog, topics: topicsOf(config.kafkaTopicPrefix), partitions: config.kafkaPartitions });
  } finally {
    await eventLog.close();
  }
}

/** `hexfleet backup …`: logs (engine, Kafka client) go to stderr; stdout is the command's output. */
async function backup(args: string[]): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, destination({ dest: 2, sync: true }));
  process.exitCode = await runBackupCommand(args, { config, logger: log });
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  // Before the generic --help: simulate documents its own flags.
  if (command === 'simulate') {
    // Exit now rather than wait for idle HTTP keep-alive sockets to time out.
    process.exit(await runSimulate(rest));
  }
  // Before the generic --help too: each documents its own flags.
  if (command === 'replay') return replay(rest);
  if (command === 'dlq') return dlq(rest);
  if (command === 'backup') return backup(rest);
  if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'serve') return serve();
  if (command === 'token') return token(rest);
  if (command === 'reconcile') return reconcile(rest);
  throw new ConfigError(`unknown command "${command}"; see hexfleet --help`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`hexfleet: ${message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
