import type { RedisServer } from '../../kit/redis-server.js';
import type { Progress } from './clock.js';
import type { RunOptions } from './options.js';

/** Issue 4: 20,000 deliveries/s. */
export const TARGET_DELIVERIES_PER_S = 20_000;
/**
 * 19,000, not 20,000: one gateway process may hold 20,000 open files (hard
 * limit, cannot be raised) and also needs its listening socket, its Redis
 * connections, its log file, epoll and timer descriptors, and Node's own.
 */
export const FULL_SUBSCRIBERS = 19_000;

/** Every parameter of a bench:tracking run; the report prints them next to the figures. */
export interface TrackingOptions extends RunOptions {
  /** Drivers on gateway A, one accepted order each. */
  drivers: number;
  /** Subscribers on gateway B, subscriber g watching order g mod drivers. */
  subscribers: number;
  /** Each driver sends one ping (one frame) every periodMs. */
  periodMs: number;
  /** Subscribers per subscriber process (each process holds that many sockets: open-file limit). */
  perProcess: number;
}

/** What the tracking scenario gets from its suite (bench/suites/tracking.ts). */
export interface TrackingContext {
  options: TrackingOptions;
  redis: RedisServer;
  tmpDir: string;
  progress: Progress;
  jwtSecret: string;
  /** Both gateways' environment. */
  env: Record<string, string>;
  /** The gateways' HEXFLEET_REDIS_PREFIX, under which the orders are committed. */
  prefix: string;
}
