import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Process-level tests run dist/: rebuild it first when a source is newer than its output.
    globalSetup: ['test/support/build-dist.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start real servers; two cores cannot run many at once.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.ts'] } },
      {
        // The suites of the routes a served process answers in a lane (src/http/lane.ts), run
        // again over loopback through the Node listener: the lane and the app must answer alike.
        extends: true,
        test: {
          name: 'lanes',
          include: [
            'test/http/pings.test.ts',
            'test/http/healthchecks-compat.test.ts',
            'test/http/debts.test.ts',
            'test/http/auth.test.ts',
            'test/http/validation.test.ts',
            'test/http/rate-limit.test.ts',
            'test/http/route-rules.test.ts',
          ],
          env: { COMPTER_TEST_TRANSPORT: 'listener' },
        },
      },
    ],
  },
});
