import { defineConfig } from 'vitest/config';

/**
 * Three projects, by what a test needs (test/README.md):
 *  - unit: pure code and in-memory fakes; no sockets, no PostgreSQL, no child
 *    processes. Files run in parallel. `npx vitest run --project unit`: under 30 s.
 *  - integration: in-process components over real sockets, a real PostgreSQL, or one
 *    built process at a time (needs dist/). One file at a time.
 *  - system: the whole system as processes (launcher, drills, network namespaces,
 *    the panel in Chromium, the original Python clients, Prometheus). One file at a time.
 * The groups run in that order (sequence.groupOrder), never two at once: on 2 cores
 * the serial ones are more reliable alone.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The system's scheduling policy for every test process (test/harness/scheduling.ts).
    globalSetup: ['test/harness/scheduling.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'system', include: ['test/system/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});
