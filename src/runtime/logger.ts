import { type DestinationStream, pino, type Logger } from 'pino';

/**
 * pino JSON to stdout (or `destination`, e.g. stderr for a command whose
 * stdout is its output): one line per connection event and per error, never
 * one per ping.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'hexfleet' } };
  return destination ? pino(options, destination) : pino(options);
}
