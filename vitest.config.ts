import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real redis-server processes and gateways; on a
    // busy 2-core machine a generous timeout avoids false failures while every
    // wait inside a test is a condition, never a fixed sleep. Longer than the
    // longest default-timeout test's own waits (up to 60 s each), so a slow
    // condition fails with its waitFor message, not a bare test timeout; the
    // slowest of these take 20-40 s in CI.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    globalSetup: ['test/support/global-setup.ts', 'test/support/kafka-global-setup.ts'],
  },
});
