import { assertRedisInstalled } from './redis-server.js';

/** A run without redis-server fails at once, saying how to get it; nothing is skipped. */
export default function setup(): void {
  assertRedisInstalled();
}
