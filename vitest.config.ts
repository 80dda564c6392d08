import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: the real-sshd and lab suites start servers; too many at once starves them.
    maxWorkers: 2,
  },
});
