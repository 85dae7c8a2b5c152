import { pino, type Logger } from 'pino';

/** pino JSON to stdout: one line per connection event and per error, never one per ping. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'hexfleet' } });
}
