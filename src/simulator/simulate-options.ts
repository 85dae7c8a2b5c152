import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load-config.js';
import { BERLIN_BBOX, type BBox } from './city-area.js';

/** What `hexfleet simulate` was asked to do, validated. */
export interface SimulateOptions {
  drivers: number;
  ordersPerMinute: number;
  /** Gateway roots, `ws://host:port` (a path given on the command line is dropped). */
  urls: string[];
  /** Seconds to run; undefined: until Ctrl-C. */
  durationS: number | undefined;
  bbox: BBox;
  seed: number;
  acceptProbability: number;
  maxOpenOrders: number;
  maxTracked: number;
  progressIntervalS: number;
  /** PEM of the CA trusted for wss:// and https:// (`--ca FILE`); undefined: the system's. */
  ca?: string;
}


export const SIMULATE_HELP = `hexfleet simulate: drive a simulated fleet, orders and customers against running gateways

Usage:
  hexfleet simulate --url ws://HOST:PORT [--url ws://HOST2:PORT ...] [options]

Options:
  --url URL                 gateway root, ws:// or wss:// (repeat for several gateways: drivers and
                            trackers fail over between them; HTTP calls go to http(s):// of the same host)
  --drivers N               simulated drivers, one DriverClient (WebSocket) each   (default 100, max 50000)
  --orders-per-minute N     orders placed through POST /v1/match                   (default 60, max 60000)
  --duration S              stop by itself after S seconds                         (default: until Ctrl-C)
  --bbox W,S,E,N            city bounding box minLng,minLat,maxLng,maxLat          (default ${BERLIN_BBOX.join(',')},
                                                                                     10 x 10 km around Berlin)
  --seed N                  seed of every random choice, for a repeatable run      (default: random, printed)
  --accept-probability P    share of offers a driver accepts, 0..1                 (default 0.8)
  --max-open-orders N       orders open at once; more are not placed until some end (default 1000)
  --max-tracked N           orders watched on /v1/track at once (one socket each)   (default 500)
  --progress-interval S     seconds between progress lines on stderr               (default 2)
  --ca FILE                 PEM CA that signed the gateways' certificate, trusted for wss:// and https://
                            instead of the system's (a gateway with HEXFLEET_TLS_CERT_FILE from a private CA)
  --help                    this text

Tokens: the simulator signs its own driver (with a vehicle claim), service and customer tokens
with HEXFLEET_JWT_SECRET, which must be the gateways' secret (exit 2 without it).

Output: a progress line on stderr every --progress-interval seconds, a summary on stdout at the end.
Exit status: 0 after --duration or Ctrl-C, 1 when no ping was ever acked (no gateway reachable), 2 on a usage error.
`;

function int(v: string | undefined, flag: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`--${flag} must be a whole number in [${min}, ${max}], got "${v}"`);
  }
  return n;
}

function bboxOf(v: string | undefined): BBox {
  if (v === undefined) return BERLIN_BBOX;
  const parts = v.split(',').map((s) => Number(s.trim()));
  const [w, s, e, n] = parts as [number, number, number, number];
  if (parts.length !== 4 || !parts.every(Number.isFinite) || w < -180 || e > 180 || s < -90 || n > 90 || w >= e || s >= n) {
    throw new ConfigError(`--bbox must be minLng,minLat,maxLng,maxLat with minLng < maxLng and minLat < maxLat, got "${v}"`);
  }
  return [w, s, e, n];
}

function rootUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`--url must be a ws:// or wss:// URL, got "${v}"`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new ConfigError(`--url must be a ws:// or wss:// URL, got "${v}"`);
  return `${u.protocol}//${u.host}`;
}

/** Parses the arguments after `simulate`; throws `ConfigError` (the CLI's usage error, exit 2) naming the flag at fault. */
export function parseSimulateArgs(args: string[]): SimulateOptions | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string', multiple: true },
        drivers: { type: 'string' },
        'orders-per-minute': { type: 'string' },
        duration: { type: 'string' },
        bbox: { type: 'string' },
        seed: { type: 'string' },
        'accept-probability': { type: 'string' },
        'max-open-orders': { type: 'string' },
        'max-tracked': { type: 'string' },
        'progress-interval': { type: 'string' },
        ca: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see hexfleet simulate --help`);
  }
  if (values.help) return 'help';
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const urls = (values.url as string[] | undefined) ?? [];
  if (urls.length === 0) throw new ConfigError('--url is required (e.g. --url ws://127.0.0.1:8080); see hexfleet simulate --help');
  const p = str('accept-probability');
  const acceptProbability = p === undefined ? 0.8 : Number(p);
  if (p !== undefined && (p.trim() === '' || !Number.isFinite(acceptProbability) || acceptProbability < 0 || acceptProbability > 1)) {
    throw new ConfigError(`--accept-probability must be a number in [0, 1], got "${p}"`);
  }
  const duration = str('duration');
  const caFile = str('ca');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--ca: cannot read "${caFile}": ${(err as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--ca: "${caFile}" holds no PEM certificate`);
  }
  return {
    ...(ca === undefined ? {} : { ca }),
    urls: [...new Set(urls.map(rootUrl))],
    drivers: int(str('drivers'), 'drivers', 100, 1, 50_000),
    ordersPerMinute: int(str('orders-per-minute'), 'orders-per-minute', 60, 0, 60_000),
    durationS: duration === undefined ? undefined : int(duration, 'duration', 0, 1, 365 * 24 * 3600),
    bbox: bboxOf(str('bbox')),
    seed: int(str('seed'), 'seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
    acceptProbability,
    maxOpenOrders: int(str('max-open-orders'), 'max-open-orders', 1000, 1, 100_000),
    maxTracked: int(str('max-tracked'), 'max-tracked', 500, 0, 50_000),
    progressIntervalS: int(str('progress-interval'), 'progress-interval', 2, 1, 3600),
  };
}
