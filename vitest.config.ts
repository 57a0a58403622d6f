import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end files start PostgreSQL and several processes; on 2 cores they
    // are more reliable one file at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
