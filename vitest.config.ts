import { defineConfig } from 'vitest/config';

// Tests import the compiled engine from dist/: worker threads need real .js
// files, and testing what ships beats testing a transpiled copy. `npm test`
// builds first; test/setup/build-before-tests.ts rebuilds when `npx vitest`
// alone would otherwise run code older than the sources.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/build-before-tests.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
