import { execFileSync } from 'node:child_process';
import { assertRedisInstalled } from '../../kit/redis-server.js';

/**
 * A run without redis-server fails at once, saying how to get it; nothing is
 * skipped. The build runs first because worker threads (the dispatch pool)
 * and the CLI tests run compiled code from dist/, which must match the sources.
 */
export default function setup(): void {
  assertRedisInstalled();
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
