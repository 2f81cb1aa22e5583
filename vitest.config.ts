import { defineConfig } from 'vitest/config';

// Tests import the compiled engine from dist/ (built by `pretest`): worker threads
// need real .js files, and testing what ships beats testing a transpiled copy.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
