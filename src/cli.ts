#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ROLES, type Role, TokenService } from './auth/tokens.js';
import { ConfigError, configHelp, loadConfig } from './config/load-config.js';
import { isVehicleType, VEHICLE_TYPES } from './dispatch/vehicle.js';
import { startGateway } from './gateway.js';
import { createLogger } from './runtime/logger.js';

const USAGE = `hexfleet: real-time driver location engine

Usage:
  hexfleet [serve]                          run the gateway (default)
  hexfleet token --role ROLE --sub ID [--ttl SECONDS] [--vehicle TYPE]
                                            print a signed token for local use
                                            (roles: ${ROLES.join(', ')};
                                             vehicles: ${VEHICLE_TYPES.join(', ')})
  hexfleet --help                           this text

Configuration (environment variables):
${configHelp()}
`;

async function serve(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const gateway = await startGateway(config, log);
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
  let values: { role?: string; sub?: string; ttl?: string; vehicle?: string };
  try {
    ({ values } = parseArgs({ args, options: { role: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string' }, vehicle: { type: 'string' } } }));
  } catch (err) {
    // An unknown or incomplete option is a usage error like the others: exit 2, not 1.
    throw new ConfigError((err as Error).message);
  }
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) {
    throw new ConfigError(`--role must be one of ${ROLES.join(', ')}`);
  }
  if (!values.sub) throw new ConfigError('--sub is required (for a driver: its driver id)');
  const ttlS = values.ttl === undefined ? 24 * 3600 : Number(values.ttl);
  if (!Number.isInteger(ttlS) || ttlS <= 0) throw new ConfigError('--ttl must be a positive whole number of seconds');
  const config = loadConfig();
  if (!config.jwtSecret) throw new ConfigError('HEXFLEET_JWT_SECRET is required to sign a token');
  if (values.vehicle !== undefined && !isVehicleType(values.vehicle)) {
    throw new ConfigError(`--vehicle must be one of ${VEHICLE_TYPES.join(', ')}`);
  }
  const claims = { role: values.role as Role, sub: values.sub, ttlS };
  const jwt = await new TokenService(config.jwtSecret).sign(values.vehicle ? { ...claims, vehicle: values.vehicle } : claims);
  process.stdout.write(jwt + '\n');
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'serve') return serve();
  if (command === 'token') return token(rest);
  throw new ConfigError(`unknown command "${command}"; see hexfleet --help`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`hexfleet: ${message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
