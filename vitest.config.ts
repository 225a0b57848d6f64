import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Process-level tests run dist/: rebuild it first when a source is newer than its output.
    globalSetup: ['test/support/build-dist.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start real servers; two cores cannot run many at once.
    maxWorkers: 2,
  },
});
